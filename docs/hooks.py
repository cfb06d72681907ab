"""mkdocs hook: insert the hook reference generated from cultura's hook specs."""

from __future__ import annotations

from typing import Any

MARKER = "<!-- hook-reference -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from cultura.core.reference import hook_reference

    return markdown.replace(MARKER, hook_reference())
