"""The local registry: installed adapters under ``$CULTURA_HOME`` (like pip's cache).

Layout::

    $CULTURA_HOME/
      adapters/<culture>/<task>/<entry>/     one verified artifact per entry
          cultura.json, adapter_*.safetensors, ...  (the artifact's files)
          .cultura-entry.json                 where it came from, when, sha256 of every file
      locks/<culture>__<task>.lock            one file lock per name
      tmp/pull-<host>-<pid>-*/                downloads in progress (see :meth:`LocalRegistry.staging`)

``<entry>`` is ``<org>--<repo>--<commit12>`` for an adapter pulled from the Hub and
``local--<digest12>`` for one installed from a directory, so several adapters for the same
name (e.g. for different base models) live side by side.

Installs are atomic: files are copied into a temporary directory next to the target and
renamed into place (:func:`cultura.adapt.artifact.atomic_directory`), under a per-name file
lock, so concurrent installs of the same name (threads or processes) leave exactly one
complete entry and never a half-written one.

Every path is built from validated parts only: the culture must be a canonical BCP-47 tag, the
task must follow the names grammar, file names must pass
:func:`~cultura.adapt.artifact.check_file_name` (allow-listed types, no ``..``), the origin's
repo id and commit must be well formed, and the resolved target must lie inside
``adapters/`` (symlinks included). An artifact that asks for remote code (``auto_map``) is
refused. Anything else is refused with the field and the value, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from cultura.adapt.artifact import (
    CARD,
    MANIFEST,
    ArtifactError,
    Manifest,
    atomic_directory,
    check_file_name,
    read_manifest,
    refuse_remote_code,
    sha256_file,
    verify_artifact,
)
from cultura.core.errors import CulturaError
from cultura.core.grammar import TASK
from cultura.core.tags import Culture
from cultura.registry.errors import IntegrityError
from cultura.registry.names import (
    AdapterName,
    AdapterNameError,
    HubName,
    PathName,
    RegistryName,
    parse,
)
from cultura.registry.settings import cultura_home, redact

__all__ = [
    "COMMIT_ID",
    "ENTRY_FILE",
    "InstalledAdapter",
    "LocalRegistry",
    "Origin",
    "RegistryError",
    "check_commit",
    "check_manifest_paths",
]

ENTRY_FILE = ".cultura-entry.json"
LOCK_TIMEOUT_S = 600.0
#: a staging directory older than this (or whose process is gone) is a leftover of a killed pull
STALE_AFTER_S = 3600.0
STAGING_PREFIX = "pull-"
#: a full commit id, as the Hub writes it
COMMIT_ID = re.compile(r"[0-9a-f]{40}")
_CANONICAL_TAG = re.compile(r"[A-Za-z0-9]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_SHOWN = 80


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
        if self.origin.endpoint:  # entries written by older versions may hold credentials
            data["origin"]["endpoint"] = redact(self.origin.endpoint)
        return data


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _shown(value: object) -> str:
    """``repr(value)``, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _refuse(where: str, field_name: str, value: object, why: str) -> ArtifactError:
    return ArtifactError(f"{where}: field {field_name!r} is {_shown(value)}: {why}; the adapter "
                         "was refused")


def check_culture(value: object, where: str) -> str:
    """``value`` if it is a canonical BCP-47 tag (what becomes ``adapters/<culture>``)."""
    if not isinstance(value, str) or not _CANONICAL_TAG.fullmatch(value):
        raise _refuse(where, "culture", value, "not a BCP-47 tag (e.g. zh-Hant-TW)")
    try:
        canonical = Culture.parse(value).tag
    except Exception as exc:  # TagError, or langcodes' own exceptions for odd tags
        raise _refuse(where, "culture", value, f"not a valid BCP-47 tag ({exc})") from None
    if canonical != value:
        raise _refuse(where, "culture", value, f"not canonical (write {canonical!r})")
    return value


def check_task(value: object, where: str) -> str:
    """``value`` if it is a task name of the names grammar (what becomes ``<culture>/<task>``)."""
    if not isinstance(value, str) or not TASK.fullmatch(value):
        raise _refuse(where, "task", value, "not a task name (lowercase letters, digits, '_', "
                      "'.', '-', starting with a letter or digit, at most 64)")
    return value


def check_file_names(files: Iterable[object], where: str) -> None:
    """Refuse file names that are unsafe, hidden or of a type an artifact may not hold."""
    for rel in files:
        check_file_name(rel, f"{where}: {MANIFEST}")
        if any(str(part).startswith(".") for part in str(rel).split("/")):
            raise ArtifactError(f"{where}: {MANIFEST} lists the hidden file {_shown(rel)}; "
                                "artifacts hold no hidden files, so the adapter was refused")


def check_manifest_paths(manifest: Manifest, where: str) -> None:
    """Refuse a manifest whose culture, task or file names could lead outside the registry."""
    check_culture(manifest.culture, where)
    check_task(manifest.task, where)
    check_file_names(manifest.files, where)


def check_commit(commit: object, repo_id: str) -> str:
    """``commit`` if it is a full commit id (40 lowercase hex digits), as the Hub answers."""
    if not isinstance(commit, str) or not COMMIT_ID.fullmatch(commit):
        raise IntegrityError(
            f"hf:{repo_id}: the Hub answered the commit id {_shown(commit)}, which is not 40 "
            "lowercase hex digits; a Hub-compatible server never does that, so the answer was "
            "refused and nothing was downloaded. Check HF_ENDPOINT"
        )
    return commit


def _check_repo_id(repo_id: object, where: str) -> str:
    try:
        parsed = parse(f"hf:{repo_id}")
    except AdapterNameError as exc:
        raise _refuse(where, "repo_id", repo_id, str(exc)) from None
    if not isinstance(parsed, HubName) or parsed.revision:
        raise _refuse(where, "repo_id", repo_id, "not an ORG/NAME Hub id")
    return parsed.repo_id


def _inside(path: Path, root: Path, where: str, what: str = "the install path") -> Path:
    """``path`` if it resolves (symlinks followed) to somewhere strictly inside ``root``."""
    resolved, top = path.resolve(), root.resolve()
    if resolved == top or not resolved.is_relative_to(top):
        raise ArtifactError(
            f"{where}: {what} {path} resolves to {resolved}, outside {top} (a symlink or a "
            "traversal); the adapter was refused"
        )
    return resolved


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def _host() -> str:
    return _safe(socket.gethostname())[:32] or "host"


def _is_stale(path: Path) -> bool:
    """Whether ``path`` in ``tmp/`` is a leftover: its pull's process on this host is gone, or
    (when that cannot be told: another host, Windows, another name) it is older than
    :data:`STALE_AFTER_S`."""
    match = re.fullmatch(rf"{STAGING_PREFIX}(.+)-(\d+)-[^-]*", path.name)
    if match is not None and match.group(1) == _host() and os.name != "nt":
        pid = int(match.group(2))
        return pid != os.getpid() and not _pid_alive(pid)
    try:
        return time.time() - path.lstat().st_mtime > STALE_AFTER_S
    except OSError:
        return False


def install_files(directory: Path, manifest: Manifest | None = None) -> list[str]:
    """The files an install copies: the manifest's files, ``cultura.json`` and the card
    (``manifest``: ``directory``'s, when the caller has read it already)."""
    manifest = manifest or read_manifest(directory)
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

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh directory under ``tmp/`` for one pull, removed when the block ends (also on
        an error or Ctrl-C). Its name records the host and process, so a leftover of a killed
        pull is recognized by :meth:`clean_stale`."""
        self.clean_stale()
        path = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{_host()}-{os.getpid()}-",
                                     dir=self.tmp_dir()))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def clean_stale(self) -> list[Path]:
        """Remove leftovers of killed pulls from ``tmp/``: staging directories whose process is
        gone (same host) or that are older than :data:`STALE_AFTER_S`. Returns them."""
        tmp = self.home / "tmp"
        if not tmp.is_dir():
            return []
        removed = []
        for path in tmp.iterdir():
            if _is_stale(path):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
        return removed

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
        fails verification or would not stay inside the registry (see the module docstring);
        nothing is installed then.
        """
        self.clean_stale()
        source = Path(source)
        if origin is None:
            origin = Origin("local", path=str(source.resolve()))
        where = origin.describe() if origin.kind == "hub" else str(source)
        check_manifest_paths(read_manifest(source), where)
        refuse_remote_code(source, where)
        manifest = verify_artifact(source)  # every listed file checked against its sha256
        files = install_files(source, manifest)
        hashes = dict(sorted({**hash_files(source, set(files) - set(manifest.files)),
                              **manifest.files}.items()))
        if origin.kind == "hub":
            org, repo = _check_repo_id(origin.repo_id, where).split("/")
            commit = check_commit(origin.commit, f"{org}/{repo}")
            entry_id = f"{_safe(org)}--{_safe(repo)}--{commit[:12]}"
            if origin.endpoint:
                origin = replace(origin, endpoint=redact(origin.endpoint))
        else:
            digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
            entry_id = f"local--{digest[:12]}"
        target = self.adapters_dir / manifest.culture / manifest.task / entry_id
        _inside(target, self.adapters_dir, where)
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
                    dest = _inside(tmp / rel, tmp, where)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(_inside(source / rel, source, where, "the file"), dest)
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
        self.clean_stale()
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
