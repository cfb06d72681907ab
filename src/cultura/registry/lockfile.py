"""``cultura.lock``: adapter names pinned to a repo, a commit and the sha256 of every file.

Format (JSON, sorted keys, so diffs are readable)::

    {
      "version": 1,
      "adapters": {
        "zh-Hant-TW/sentiment": {
          "repo": "my-org/zh-sentiment",          # null for an adapter installed from a folder
          "commit": "3f2a9c1...",                 # 40-hex commit id (null for a folder)
          "entry": "my-org--zh-sentiment--3f2a9c1e0b7d",
          "culture": "zh-Hant-TW", "task": "sentiment", "base_model": "...",
          "files": {"adapter_config.json": "<sha256>", "cultura.json": "<sha256>", ...}
        }
      }
    }

Loading a locked name uses exactly that commit (downloading it if needed) and checks every
file's sha256 against the lock; any difference is a :class:`~cultura.registry.errors.LockError`.
A lockfile is read as data: repo ids, commit ids (40 hex digits), cultures, tasks and file names
are validated before any of them is used for a download or a path.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cultura.adapt.artifact import ArtifactError, check_file_name, write_atomic
from cultura.core.errors import DataError
from cultura.registry.errors import LockError
from cultura.registry.names import AdapterName, HubName, format_name, parse, try_parse
from cultura.registry.store import COMMIT_ID, InstalledAdapter, check_culture, check_task

__all__ = ["LOCKFILE", "LockEntry", "Lockfile", "find_lockfile", "verify_entry"]

LOCKFILE = "cultura.lock"
LOCK_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LockEntry:
    """One pinned adapter."""

    name: str
    repo: str | None
    commit: str | None
    entry: str
    culture: str
    task: str
    base_model: str
    files: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_installed(cls, name: str, installed: InstalledAdapter) -> LockEntry:
        return cls(
            name=name,
            repo=installed.origin.repo_id if installed.origin.kind == "hub" else None,
            commit=installed.origin.commit if installed.origin.kind == "hub" else None,
            entry=installed.entry_id,
            culture=installed.culture,
            task=installed.task,
            base_model=installed.base_model,
            files=dict(installed.files),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo, "commit": self.commit, "entry": self.entry,
            "culture": self.culture, "task": self.task, "base_model": self.base_model,
            "files": dict(sorted(self.files.items())),
        }


@dataclass
class Lockfile:
    """The pins of one ``cultura.lock``."""

    path: Path
    entries: dict[str, LockEntry] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> Lockfile:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LockError(f"{path}: lockfile not found; create it with `cultura lock NAME`") from None
        except ValueError as exc:
            raise DataError(f"{path}: not valid JSON ({exc}); regenerate it with `cultura lock`") from None
        if not isinstance(data, dict) or not isinstance(data.get("adapters"), dict):
            raise DataError(f"{path}: field 'adapters' must be an object; regenerate the lockfile")
        if data.get("version") != LOCK_VERSION:
            raise DataError(
                f"{path}: field 'version' is {data.get('version')!r}; this cultura reads "
                f"version {LOCK_VERSION}. Upgrade cultura or regenerate the lockfile"
            )
        entries = {}
        for name, raw in data["adapters"].items():
            where = f"{path}: adapters[{name!r}]"
            if not isinstance(raw, dict):
                raise DataError(f"{where} must be an object")
            files = raw.get("files")
            if not isinstance(files, dict) or not files:
                raise DataError(f"{where}: field 'files' must map file names to sha256")
            for key in ("entry", "culture", "task"):
                if not isinstance(raw.get(key), str):
                    raise DataError(f"{where}: field {key!r} must be a string")
            _check_pin(raw, files, where)
            entries[name] = LockEntry(
                name=name, repo=raw.get("repo"), commit=raw.get("commit"), entry=raw["entry"],
                culture=raw["culture"], task=raw["task"], base_model=raw.get("base_model", ""),
                files={str(k): str(v) for k, v in files.items()},
            )
        return cls(path, entries)

    def get(self, name: str | AdapterName) -> LockEntry | None:
        return self.entries.get(format_name(parse(name)))

    def set(self, name: str | AdapterName, entry: LockEntry) -> None:
        self.entries[format_name(parse(name))] = entry

    def write(self) -> None:
        """Write atomically (a reader never sees a half-written lockfile)."""
        data = {
            "version": LOCK_VERSION,
            "adapters": {k: self.entries[k].as_dict() for k in sorted(self.entries)},
        }
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        write_atomic(self.path, text.encode("utf-8"))


def _check_pin(raw: dict[str, Any], files: dict[Any, Any], where: str) -> None:
    """Refuse a pin whose fields could lead a download or a path astray."""
    repo, commit = raw.get("repo"), raw.get("commit")
    if (repo is None) != (commit is None):
        raise DataError(f"{where}: fields 'repo' and 'commit' go together (both null for a "
                        "folder); regenerate the lockfile")
    if repo is not None and not isinstance(try_parse(f"hf:{repo}"), HubName):
        raise DataError(f"{where}: field 'repo' is {repo!r}, not an ORG/NAME Hub id")
    if commit is not None and not (isinstance(commit, str) and COMMIT_ID.fullmatch(commit)):
        raise DataError(f"{where}: field 'commit' is {commit!r}, not a 40-hex-digit commit id")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,255}", raw["entry"]) or raw["entry"].startswith("."):
        raise DataError(f"{where}: field 'entry' is {raw['entry']!r}, not an entry id")
    try:
        check_culture(raw["culture"], where)
        check_task(raw["task"], where)
        for rel in files:
            check_file_name(rel, where)
    except ArtifactError as exc:
        raise DataError(f"{exc}; regenerate the lockfile (cultura lock)") from None
    for rel, digest in files.items():
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise DataError(f"{where}: files[{rel!r}] is {digest!r}, not a sha256 (64 hex digits)")


def find_lockfile(lock: str | Path | bool | None) -> Lockfile | None:
    """The lockfile to use: ``lock`` if a path, none if ``False``; for ``None``/``True``:
    ``CULTURA_LOCK``, else ``./cultura.lock`` if it exists (``True`` requires one)."""
    if lock is False:
        return None
    if lock is not None and lock is not True:
        return Lockfile.read(lock)
    env = os.environ.get("CULTURA_LOCK")
    if env:
        return Lockfile.read(env)
    default = Path.cwd() / LOCKFILE
    if default.is_file():
        return Lockfile.read(default)
    if lock is True:
        raise LockError(f"no {LOCKFILE} in {Path.cwd()} and CULTURA_LOCK is not set")
    return None


def verify_entry(pin: LockEntry, installed: InstalledAdapter, lockfile: Path) -> None:
    """Check ``installed`` against ``pin``: same commit and the same sha256 for every file."""
    from cultura.adapt.artifact import sha256_file

    problems = []
    if pin.commit and installed.origin.commit != pin.commit:
        problems.append(f"commit {installed.origin.commit} instead of {pin.commit}")
    actual = {}
    for rel in sorted(set(pin.files) | set(installed.files)):
        path = installed.path / rel
        actual[rel] = sha256_file(path) if path.is_file() else None
    for rel, expected in sorted(pin.files.items()):
        got = actual.get(rel)
        if got is None:
            problems.append(f"{rel} is missing")
        elif got != expected:
            problems.append(f"{rel} has sha256 {got[:12]}… instead of {expected[:12]}…")
    for rel in sorted(set(installed.files) - set(pin.files)):
        problems.append(f"{rel} is not in the lockfile")
    if problems:
        raise LockError(
            f"{pin.name} does not match {lockfile}: " + "; ".join(problems)
            + f" ({installed.path}). If the change is intended, run `cultura lock {pin.name}` "
            "again; otherwise remove the installed copy (`cultura remove`) and load again"
        )
