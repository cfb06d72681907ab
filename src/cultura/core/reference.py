"""Generate the hook reference (Markdown) from the hook specs' signatures and docstrings.

The docs build (``docs/hooks.py``, an mkdocs hook) inserts this at the marker
``<!-- hook-reference -->``, so the reference is never copied by hand.
"""

from __future__ import annotations

import inspect

from cultura.core import hookspecs


def hook_reference() -> str:
    """Markdown for every hook: exact signature, then its docstring."""
    parts = [
        f"Plugin API version **{hookspecs.API_VERSION}**. Hooks are listed in the order "
        "they are called.\n"
    ]
    for name in hookspecs.ALL_HOOKS:
        func = getattr(hookspecs, name)
        signature = f"{name}{inspect.signature(func)}"
        doc = inspect.getdoc(func) or ""
        doc = doc.replace(".. versionadded::", "*Added in version*")
        parts.append(f"## `{name}`\n\n```python\n{signature}\n```\n\n{_rst_to_md(doc)}\n")
    return "\n".join(parts)


def _rst_to_md(doc: str) -> str:
    """Turn the docstrings' ``Example::`` literal blocks into fenced code blocks."""
    out: list[str] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            out.append(line.rstrip()[:-1])
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            out += ["", "```python", *block, "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)
