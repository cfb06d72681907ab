"""The local registry: installed adapters under ``$CULTURA_HOME`` (like pip's cache).

Layout::

    $CULTURA_HOME/
      adapters/<culture>/<task>/<entry>/     one verified artifact per entry
          cultura.json, adapter_*.safetensors, ...  (the artifact's files)
          .cultura-entry.json                 where it came from, when, sha256 of every file
      locks/<culture>__<task>.lock            one file lock per name
      tmp/                                    downloads in progress

``<entry>`` is ``<org>--<repo>--<commit12>`` for an adapter pulled from the Hub and
``local--<digest12>`` for one installed from a directory, so several adapters for the same
name (e.g. for different base models) live side by side.

Installs are atomic: files are copied into a temporary directory next to the target and
renamed into place (:func:`cultura.adapt.artifact.atomic_directory`), under a per-name file
lock, so concurrent installs of the same name (threads or processes) leave exactly one
complete entry and never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from cultura.adapt.artifact import (
    CARD,
    MANIFEST,
    ArtifactError,
    Manifest,
    atomic_directory,
    read_manifest,
    sha256_file,
    verify_artifact,
)
from cultura.core.errors import CulturaError
from cultura.registry.names import AdapterName, HubName, PathName, RegistryName, parse
from cultura.registry.settings import cultura_home

__all__ = ["ENTRY_FILE", "InstalledAdapter", "LocalRegistry", "Origin", "RegistryError"]

ENTRY_FILE = ".cultura-entry.json"
LOCK_TIMEOUT_S = 600.0


class RegistryError(CulturaError):
    """The local registry cannot do what was asked (missing entry, bad state)."""


@dataclass(frozen=True)
class Origin:
    """Where an installed adapter came from."""

    kind: Literal["hub", "local"]
    repo_id: str | None = None
    commit: str | None = None
    revision: str | None = None
    endpoint: str | None = None
    path: str | None = None

    def describe(self) -> str:
        if self.kind == "hub":
            return f"hf:{self.repo_id}@{(self.commit or '?')[:12]}"
        return f"local {self.path}"


@dataclass(frozen=True)
class InstalledAdapter:
    """One entry of the local registry."""

    culture: str
    task: str
    entry_id: str
    path: Path
    origin: Origin
    installed_at: str
    base_model: str
    fingerprint: str
    synthesized: bool = False
    files: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.culture}/{self.task}"

    def manifest(self) -> Manifest:
        return read_manifest(self.path)

    def matches_revision(self, revision: str | None) -> bool:
        """Whether this entry is ``revision`` (a commit prefix of 7+ chars or the ref pulled)."""
        if revision is None:
            return True
        commit = self.origin.commit or ""
        return self.origin.revision == revision or (
            len(revision) >= 7 and commit.startswith(revision)
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["name"] = self.name
        return data


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def artifact_files(directory: Path) -> list[str]:
    """The files an install copies: the manifest's files, ``cultura.json`` and the card."""
    manifest = read_manifest(directory)
    files = set(manifest.files) | {MANIFEST}
    if (directory / CARD).is_file():
        files.add(CARD)
    return sorted(files)


def hash_files(directory: Path, files: Iterable[str]) -> dict[str, str]:
    return {rel: sha256_file(directory / rel) for rel in sorted(files)}


class LocalRegistry:
    """The adapters installed under ``home`` (default: :func:`cultura_home`)."""

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home) if home is not None else cultura_home()

    @property
    def adapters_dir(self) -> Path:
        return self.home / "adapters"

    def tmp_dir(self) -> Path:
        path = self.home / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def lock(self, culture: str, task: str):  # type: ignore[no-untyped-def]
        """The file lock that serializes changes to ``culture/task``."""
        from filelock import FileLock

        locks = self.home / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(str(locks / f"{_safe(culture)}__{_safe(task)}.lock"), timeout=LOCK_TIMEOUT_S)

    # ------------------------------------------------------------------ install
    def install(
        self, source: str | Path, *, origin: Origin | None = None, overwrite: bool = False
    ) -> InstalledAdapter:
        """Verify the artifact in ``source`` and install a copy; returns the entry.

        Installing the same content again returns the existing entry (``overwrite`` forces a
        fresh copy). Raises :class:`~cultura.adapt.artifact.ArtifactError` when the artifact
        fails verification; nothing is installed then.
        """
        source = Path(source)
        manifest = verify_artifact(source)
        files = artifact_files(source)
        hashes = hash_files(source, files)
        if origin is None:
            origin = Origin("local", path=str(source.resolve()))
        if origin.kind == "hub" and origin.repo_id and origin.commit:
            org, repo = origin.repo_id.split("/")
            entry_id = f"{_safe(org)}--{_safe(repo)}--{origin.commit[:12]}"
        else:
            digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
            entry_id = f"local--{digest[:12]}"
        target = self.adapters_dir / manifest.culture / manifest.task / entry_id
        with self.lock(manifest.culture, manifest.task):
            existing = self._read_entry(target)
            if existing is not None and existing.files == hashes and not overwrite:
                return existing
            entry = {
                "culture": manifest.culture,
                "task": manifest.task,
                "entry_id": entry_id,
                "origin": asdict(origin),
                "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "base_model": manifest.base_model.id,
                "fingerprint": manifest.base_model.fingerprint,
                "synthesized": manifest.synthesized,
                "files": hashes,
            }
            with atomic_directory(target, overwrite=True) as tmp:
                for rel in files:
                    dest = tmp / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source / rel, dest)
                if hash_files(tmp, files) != hashes:
                    raise ArtifactError(
                        f"{source} changed while it was being installed; install it again"
                    )
                (tmp / ENTRY_FILE).write_text(json.dumps(entry, indent=2, sort_keys=True) + "\n")
        installed = self._read_entry(target)
        assert installed is not None
        return installed

    # --------------------------------------------------------------------- read
    def _read_entry(self, directory: Path) -> InstalledAdapter | None:
        path = directory / ENTRY_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return InstalledAdapter(
                culture=data["culture"],
                task=data["task"],
                entry_id=data["entry_id"],
                path=directory,
                origin=Origin(**data["origin"]),
                installed_at=data["installed_at"],
                base_model=data.get("base_model", ""),
                fingerprint=data.get("fingerprint", ""),
                synthesized=bool(data.get("synthesized", False)),
                files=dict(data.get("files", {})),
            )
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is invisible; `cultura remove` cleans it

    def entries(self, culture: str | None = None, task: str | None = None) -> list[InstalledAdapter]:
        """Installed entries, sorted by culture, task and entry id."""
        root = self.adapters_dir
        if not root.is_dir():
            return []
        out = []
        for culture_dir in sorted(root.iterdir()):
            if culture_dir.name.startswith(".") or (culture and culture_dir.name != culture):
                continue
            for task_dir in sorted(p for p in culture_dir.iterdir() if p.is_dir()):
                if task_dir.name.startswith(".") or (task and task_dir.name != task):
                    continue
                for entry_dir in sorted(p for p in task_dir.iterdir() if p.is_dir()):
                    if entry_dir.name.startswith("."):
                        continue
                    entry = self._read_entry(entry_dir)
                    if entry is not None:
                        out.append(entry)
        return out

    def find(self, name: str | AdapterName) -> list[InstalledAdapter]:
        """Entries a name refers to (exact culture; for ``hf:`` names, entries from that repo)."""
        parsed = parse(name)
        if isinstance(parsed, RegistryName):
            return [
                e for e in self.entries(parsed.culture, parsed.task)
                if e.matches_revision(parsed.revision)
            ]
        if isinstance(parsed, HubName):
            return [
                e for e in self.entries()
                if e.origin.kind == "hub" and e.origin.repo_id == parsed.repo_id
                and e.matches_revision(parsed.revision)
            ]
        target = parsed.resolved()
        return [e for e in self.entries() if e.path.resolve() == target]

    def find_commit(self, repo_id: str, commit: str) -> InstalledAdapter | None:
        """The entry installed from ``repo_id`` at ``commit``, if any."""
        for entry in self.entries():
            if entry.origin.repo_id == repo_id and entry.origin.commit == commit:
                return entry
        return None

    # ------------------------------------------------------------------- remove
    def remove(self, name: str | AdapterName) -> list[InstalledAdapter]:
        """Remove the entries ``name`` refers to (see :meth:`find`); returns them."""
        parsed = parse(name)
        if isinstance(parsed, PathName):
            target = parsed.resolved()
            entries = [e for e in self.entries() if e.path.resolve() == target]
        else:
            entries = self.find(parsed)
        for entry in entries:
            with self.lock(entry.culture, entry.task):
                if not entry.path.exists():
                    continue
                trash = entry.path.with_name(f".{entry.path.name}.removing-{os.getpid()}")
                os.replace(entry.path, trash)  # disappears atomically, then is deleted
                shutil.rmtree(trash, ignore_errors=True)
        return entries

    def verify(self, entry: InstalledAdapter) -> None:
        """Re-check an entry's files against the hashes recorded when it was installed."""
        problems = []
        for rel, expected in sorted(entry.files.items()):
            path = entry.path / rel
            if not path.is_file():
                problems.append(f"missing {rel}")
            elif sha256_file(path) != expected:
                problems.append(f"{rel} changed since it was installed")
        if problems:
            raise RegistryError(
                f"installed adapter {entry.name} ({entry.path}) is damaged: "
                + "; ".join(problems)
                + f". Reinstall it: cultura remove {entry.name} && cultura pull "
                + (f"hf:{entry.origin.repo_id}@{entry.origin.commit}"
                   if entry.origin.kind == "hub" else f"{entry.origin.path}")
            )
