"""Adapter names: one unambiguous grammar for registry names, Hub ids and local paths.

Grammar (ABNF-like; see docs/registry.md)::

    name          = path-name / hub-name / registry-name
    path-name     = ("/" / "./" / "../" / "~/") *CHAR / "." / ".." / "~"
                  / "file:" 1*CHAR                        ; file: takes any path as is
    hub-name      = "hf:" org "/" repo [ "@" revision ]
    registry-name = culture "/" task [ "@" revision ]

    culture       = BCP-47 language tag, e.g. zh-Hant-TW (canonicalized: zh-TW -> zh-Hant-TW)
    task          = lower-alnum *( lower-alnum / "_" / "." / "-" )            ; max 64
    org, repo     = alnum *( alnum / "_" / "." / "-" ), no "--" or "..",
                    not ending in "." or "-"                                   ; max 96
    revision      = 1*( ALPHA / DIGIT / "_" / "." / "-" / "/" ), no "..", no "//",
                    not starting or ending with "/" or "."                    ; max 255

A bare relative directory is never a path: ``zh/sentiment`` is always a registry name, even if
a folder of that name exists; write ``./zh/sentiment`` for the folder. This keeps a name's
meaning independent of the current directory.

:func:`parse` returns a :class:`RegistryName`, :class:`HubName` or :class:`PathName` and
raises :class:`AdapterNameError` (naming the part that is wrong and how to write it) for
anything else; :func:`format_name` (or ``str(name)``) writes the canonical form, and
``parse(format_name(n)) == n`` for every name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cultura.core.errors import CulturaError
from cultura.core.grammar import REPO_PART as _REPO_PART
from cultura.core.grammar import TASK as _TASK

__all__ = [
    "AdapterName",
    "AdapterNameError",
    "HubName",
    "PathName",
    "RegistryName",
    "format_name",
    "parse",
]

HUB_PREFIX = "hf:"
FILE_PREFIX = "file:"
_REVISION = re.compile(r"[A-Za-z0-9_.\-/]{1,255}")
_CULTURE_SHAPE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
_EXAMPLES = "zh-Hant-TW/sentiment, hf:my-org/zh-sentiment@main or ./my-adapter"


class AdapterNameError(CulturaError, ValueError):
    """An adapter name does not follow the grammar; :attr:`part` names the faulty part.

    ``part`` is one of ``"name"``, ``"culture"``, ``"task"``, ``"revision"``, ``"org"``,
    ``"repo"`` or ``"path"``.
    """

    def __init__(self, text: object, part: str, message: str) -> None:
        self.text = text
        self.part = part
        super().__init__(f"bad adapter name {text!r}: {part}: {message}")


@dataclass(frozen=True)
class RegistryName:
    """``<culture>/<task>[@revision]``: resolved through the local registry, plugins, the Hub."""

    culture: str
    task: str
    revision: str | None = None

    kind = "registry"

    @property
    def base(self) -> str:
        """The name without its revision (``zh-Hant-TW/sentiment``)."""
        return f"{self.culture}/{self.task}"

    def __str__(self) -> str:
        return self.base + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class HubName:
    """``hf:<org>/<repo>[@revision]``: one Hub repository."""

    repo_id: str
    revision: str | None = None

    kind = "hub"

    @property
    def base(self) -> str:
        return f"{HUB_PREFIX}{self.repo_id}"

    def __str__(self) -> str:
        return self.base + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class PathName:
    """A local adapter directory (absolute, or relative with ``./``, ``../``, ``~``)."""

    path: str

    kind = "path"
    revision = None

    @property
    def base(self) -> str:
        return str(self)

    def resolved(self) -> Path:
        """The directory as an absolute path (``~`` expanded)."""
        return Path(self.path).expanduser().resolve()

    def __str__(self) -> str:
        if self.path.startswith(FILE_PREFIX) or not _is_path(self.path):
            return FILE_PREFIX + self.path
        return self.path


AdapterName = RegistryName | HubName | PathName


def _is_path(text: str) -> bool:
    return (
        text.startswith(("/", "./", "../", "~/", FILE_PREFIX))
        or text in (".", "..", "~")
        or re.match(r"[A-Za-z]:[\\/]", text) is not None  # C:\ on Windows
        or text.startswith((".\\", "..\\"))
    )


def _check_revision(text: str, revision: str) -> str:
    if not revision:
        raise AdapterNameError(text, "revision", "is empty after '@'; drop the '@' or give a "
                               "branch, tag or commit (e.g. @main, @v1.0, @3f2a9c1)")
    if not _REVISION.fullmatch(revision):
        bad = sorted({c for c in revision if not re.fullmatch(r"[A-Za-z0-9_.\-/]", c)})
        why = f"has characters {''.join(bad)!r}" if bad else "is longer than 255 characters"
        raise AdapterNameError(text, "revision", f"{revision!r} {why}; use letters, digits, "
                               "'_', '.', '-' or '/' (a branch, tag or commit id)")
    if (revision[0] in "/." or revision[-1] in "/." or ".." in revision or "//" in revision):
        raise AdapterNameError(text, "revision", f"{revision!r} is not a valid git revision "
                               "(no leading/trailing '/' or '.', no '..' or '//')")
    return revision


def _check_repo_part(text: str, part: str, value: str) -> str:
    if not value:
        raise AdapterNameError(text, part, f"is empty; write hf:<org>/<repo>, e.g. {HUB_PREFIX}"
                               "my-org/zh-sentiment")
    if not _REPO_PART.fullmatch(value) or "--" in value or ".." in value:
        raise AdapterNameError(
            text, part, f"{value!r} is not a valid Hub {part} name: use letters, digits, '_', "
            "'.', '-' (no '--' or '..', not ending in '.' or '-', at most 96 characters)"
        )
    return value


def _split_revision(text: str, body: str) -> tuple[str, str | None]:
    if "@" not in body:
        return body, None
    head, _, revision = body.partition("@")
    return head, _check_revision(text, revision)


def _parse_culture(text: str, value: str) -> str:
    from cultura.core.tags import Culture

    if not value:
        raise AdapterNameError(text, "culture", f"is empty; names look like {_EXAMPLES}")
    if not _CULTURE_SHAPE.fullmatch(value):
        raise AdapterNameError(
            text, "culture", f"{value!r} is not a BCP-47 tag; use language[-Script][-REGION], "
            "e.g. zh-Hant-TW, ar-EG, sw (a local folder needs ./ in front)"
        )
    try:
        return Culture.parse(value).tag
    except CulturaError as exc:
        raise AdapterNameError(text, "culture", str(exc)) from None
    except Exception as exc:  # langcodes may reject odd tags with its own exceptions
        raise AdapterNameError(
            text, "culture", f"{value!r} is not a valid BCP-47 tag ({type(exc).__name__})"
        ) from None


def parse(text: str | AdapterName) -> AdapterName:
    """Parse an adapter name (see the module docstring for the grammar).

    >>> parse("zh-TW/sentiment@v1")
    RegistryName(culture='zh-Hant-TW', task='sentiment', revision='v1')
    >>> parse("hf:my-org/zh-sentiment")
    HubName(repo_id='my-org/zh-sentiment', revision=None)
    """
    if isinstance(text, (RegistryName, HubName, PathName)):
        return text
    if not isinstance(text, str):
        raise AdapterNameError(text, "name", f"must be a string, got {type(text).__name__}")
    if not text or text != text.strip():
        raise AdapterNameError(
            text, "name", f"is empty or has surrounding whitespace; names look like {_EXAMPLES}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise AdapterNameError(text, "name", "contains control characters")
    if _is_path(text):
        path = text[len(FILE_PREFIX):] if text.startswith(FILE_PREFIX) else text
        if not path:
            raise AdapterNameError(text, "path", "is empty after 'file:'")
        return PathName(path)
    if text.startswith(HUB_PREFIX):
        body, revision = _split_revision(text, text[len(HUB_PREFIX):])
        if body.count("/") != 1:
            raise AdapterNameError(
                text, "repo", f"{body!r} must be exactly <org>/<repo>, e.g. {HUB_PREFIX}"
                "my-org/zh-sentiment"
            )
        org, repo = body.split("/")
        _check_repo_part(text, "org", org)
        _check_repo_part(text, "repo", repo)
        return HubName(f"{org}/{repo}", revision)
    if text.lower().startswith(HUB_PREFIX) or re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", text):
        raise AdapterNameError(text, "name", "unknown scheme; use hf:<org>/<repo> for the Hub "
                               "or ./path for a local folder")
    body, revision = _split_revision(text, text)
    if body.count("/") != 1:
        raise AdapterNameError(
            text, "name", f"expected <culture>/<task>, hf:<org>/<repo> or a path starting "
            f"with ./ or /; e.g. {_EXAMPLES}"
        )
    culture, task = body.split("/")
    culture = _parse_culture(text, culture)
    if not _TASK.fullmatch(task):
        raise AdapterNameError(
            text, "task", f"{task!r} is not a task name: use lowercase letters, digits, '_', "
            "'.', '-' (starting with a letter or digit, at most 64), e.g. sentiment"
        )
    return RegistryName(culture, task, revision)


def format_name(name: AdapterName) -> str:
    """The canonical text of ``name`` (``parse(format_name(n)) == n``)."""
    return str(name)


def try_parse(text: str) -> AdapterName | None:
    """:func:`parse`, or ``None`` when ``text`` is not a valid name."""
    try:
        return parse(text)
    except AdapterNameError:
        return None
