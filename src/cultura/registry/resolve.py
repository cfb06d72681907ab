"""Resolve an adapter name to a verified local directory, and load it.

Order (design.md §5), first match wins:

0. **lockfile** — a name pinned in ``cultura.lock`` loads exactly that commit, and every
   file's sha256 must match (a mismatch is a hard error);
1. **local registry** (``$CULTURA_HOME``);
2. **adapters declared by installed plugins** (``AdapterHeadSpec.published``: repo + pinned
   revision);
3. **Hub search** by tags (``cultura``, ``culture:<tag>``, ``task:<task>``).

Steps 1–3 each walk the culture's BCP-47 fallback chain (``zh-Hant-TW -> zh-Hant -> zh ->
und``), most specific first, and keep only adapters compatible with the requested base model
(:mod:`cultura.registry.compat`). Among compatible adapters at one level the choice is
deterministic: local entries prefer the exact base id, then the newest install, then the entry
id; plugin adapters go by repo id; Hub adapters by downloads (most first), then repo id.
Offline mode (``offline=True``, ``HF_HUB_OFFLINE=1`` or ``CULTURA_OFFLINE=1``) skips
everything that needs the network and says so. ``explain`` shows every candidate considered
and why it was taken or skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt.artifact import Manifest, verify_artifact
from cultura.core.errors import CulturaError
from cultura.core.tags import Culture
from cultura.registry.compat import BaseInfo, check_compat, describe_base
from cultura.registry.errors import LockError, OfflineError, ResolutionError
from cultura.registry.lockfile import LockEntry, Lockfile, find_lockfile, verify_entry
from cultura.registry.names import AdapterName, HubName, PathName, RegistryName, parse
from cultura.registry.settings import hub_endpoint, is_offline, redact
from cultura.registry.store import InstalledAdapter, LocalRegistry

if TYPE_CHECKING:
    from cultura.adapt.model import CulturalModel
    from cultura.core.plugins import PluginManager
    from cultura.core.types import Provenance, PublishedAdapter

__all__ = ["Candidate", "Resolution", "best_hub_candidate", "load", "lock", "resolve"]

HUB_SEARCH_LIMIT = 20


@dataclass(frozen=True)
class Candidate:
    """One adapter considered during resolution."""

    source: str  # "lock" | "path" | "local" | "plugin" | "hub"
    level: str  # the culture level it was found at ("" when not applicable)
    ref: str  # what it is: hf:repo@rev, an installed entry, a folder
    base_model: str = ""
    taken: bool = False
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "level": self.level, "ref": self.ref,
            "base_model": self.base_model, "taken": self.taken, "reason": self.reason,
        }


@dataclass
class Resolution:
    """The outcome of :func:`resolve`: candidates with reasons, and the chosen adapter."""

    name: str
    base: str | None
    chain: tuple[str, ...] = ()
    candidates: list[Candidate] = field(default_factory=list)
    path: Path | None = None
    entry: InstalledAdapter | None = None
    pending: tuple[str, str] | None = None  # (repo_id, revision) not downloaded (install=False)
    notes: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> Candidate | None:
        return next((c for c in self.candidates if c.taken), None)

    def add(self, candidate: Candidate) -> Candidate:
        self.candidates.append(candidate)
        return candidate

    def explain(self) -> str:
        """A human-readable account: every candidate, taken or skipped, and why."""
        head = f"resolving {self.name}"
        if self.base:
            head += f" for base {self.base}"
        if self.chain:
            head += f" (fallback chain {' -> '.join(self.chain)})"
        lines = [head]
        for c in self.candidates:
            mark = "TAKEN  " if c.taken else "skipped"
            level = c.level or "-"
            lines.append(f"  [{mark}] {c.source:<6} {level:<12} {c.ref}")
            lines.append(f"            {c.reason}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.path is not None:
            lines.append(f"-> {self.path}")
        elif self.pending is not None:
            lines.append(f"-> would download hf:{self.pending[0]}@{self.pending[1]}")
        else:
            lines.append("-> no adapter")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": self.base,
            "chain": list(self.chain),
            "candidates": [c.as_dict() for c in self.candidates],
            "path": str(self.path) if self.path else None,
            "pending": list(self.pending) if self.pending else None,
            "notes": list(self.notes),
        }


@dataclass
class _Context:
    base: BaseInfo | None
    offline: bool
    install: bool
    token: str | None
    endpoint: str
    registry: LocalRegistry
    manager: PluginManager | None
    progress: bool
    culture: str | None = None
    task: str | None = None
    labels: Sequence[str] | None = None


def _pull(ctx: _Context, repo_id: str, revision: str | None, **extra: Any) -> InstalledAdapter:
    from cultura.registry.download import pull_repo

    return pull_repo(
        repo_id, revision, token=ctx.token, endpoint=ctx.endpoint, registry=ctx.registry,
        offline=ctx.offline, progress=ctx.progress, **extra,
    )


def _local_key(entry: InstalledAdapter, base: BaseInfo | None) -> tuple[Any, ...]:
    exact = base is not None and base.id is not None and entry.base_model == base.id
    return (not exact, _neg_time(entry.installed_at), entry.entry_id)


def _neg_time(stamp: str) -> str:
    # newest first with a plain ascending sort: invert every digit of the ISO timestamp
    return "".join(chr(ord("9") - ord(c) + ord("0")) if c.isdigit() else c for c in stamp)


def _take_entry(res: Resolution, entry: InstalledAdapter, ctx: _Context) -> None:
    ctx.registry.verify(entry)
    res.entry = entry
    res.path = entry.path


def _local_step(res: Resolution, parsed: RegistryName, chain: Sequence[str], ctx: _Context) -> bool:
    for level in chain:
        evaluated: list[tuple[InstalledAdapter, bool, str]] = []
        for entry in ctx.registry.entries(level, parsed.task):
            if not entry.matches_revision(parsed.revision):
                evaluated.append((entry, False, f"revision {parsed.revision} does not match "
                                  f"{entry.origin.describe()}"))
                continue
            ok, why = check_compat(entry.manifest(), ctx.base)
            evaluated.append((entry, ok, why))
        fits = sorted((e for e, ok, _ in evaluated if ok), key=lambda e: _local_key(e, ctx.base))
        chosen = fits[0] if fits else None
        for entry, ok, why in evaluated:
            taken = entry is chosen
            if ok and not taken:
                why = f"compatible, but {chosen.entry_id if chosen else '?'} is preferred " \
                      "(exact base id, then newest install)"
            res.add(Candidate("local", level, f"{entry.entry_id} ({entry.origin.describe()})",
                              entry.base_model, taken, why))
        if chosen is not None:
            _take_entry(res, chosen, ctx)
            return True
    if not any(c.source == "local" for c in res.candidates):
        res.notes.append(f"local registry ({ctx.registry.home}) has no {parsed.task} adapter "
                         "for any culture on the chain")
    return False


def _declared(
    culture: str, task: str, manager: PluginManager | None
) -> dict[str, list[tuple[PublishedAdapter, Provenance]]]:
    from cultura.core.plugins import get_plugin_manager

    pm = manager or get_plugin_manager()
    results, _failures = pm.call("cultura_adapter_heads", culture)
    out: dict[str, list[tuple[PublishedAdapter, Provenance]]] = {}
    for result in results:
        if result.value.task != task:
            continue
        for published in result.value.published:
            out.setdefault(result.level, []).append((published, result.provenance))
    return out


def _remote_manifest(
    ctx: _Context, repo_id: str, revision: str | None
) -> tuple[Manifest | None, str | None, str]:
    """(manifest, commit, problem) for a Hub repo, never raising for Hub errors or refused
    answers (one hostile repo among the candidates does not stop resolution)."""
    from cultura.registry.download import fetch_manifest

    try:
        manifest, commit = fetch_manifest(repo_id, revision, token=ctx.token, endpoint=ctx.endpoint)
    except CulturaError as exc:
        return None, None, str(exc)
    if manifest is None:
        return None, commit, "no cultura.json (a plain PEFT repo: load it as hf:ORG/REPO with " \
                             "culture and task)"
    return manifest, commit, ""


def _plugin_step(res: Resolution, parsed: RegistryName, chain: Sequence[str], ctx: _Context) -> bool:
    declared = _declared(parsed.culture, parsed.task, ctx.manager)
    for level in chain:
        items = sorted(declared.get(level, []), key=lambda x: (x[0].repo_id, x[0].revision))
        for published, prov in items:
            ref = f"hf:{published.repo_id}@{published.revision} (declared by {prov})"
            if parsed.revision and parsed.revision != published.revision:
                res.add(Candidate("plugin", level, ref, published.base_model, False,
                                  f"revision {parsed.revision} requested"))
                continue
            installed = [
                e for e in ctx.registry.entries(level, parsed.task)
                if e.origin.repo_id == published.repo_id and e.matches_revision(published.revision)
            ]
            if installed:
                entry = installed[0]
                ok, why = check_compat(entry.manifest(), ctx.base)
                res.add(Candidate("plugin", level, ref, entry.base_model, ok,
                                  f"installed as {entry.entry_id}; {why}"))
                if ok:
                    _take_entry(res, entry, ctx)
                    return True
                continue
            if ctx.offline:
                res.add(Candidate("plugin", level, ref, published.base_model, False,
                                  "not installed and offline mode is on"))
                continue
            manifest, _commit, problem = _remote_manifest(ctx, published.repo_id, published.revision)
            if manifest is None:
                res.add(Candidate("plugin", level, ref, published.base_model, False, problem))
                continue
            ok, why = check_compat(manifest, ctx.base)
            res.add(Candidate("plugin", level, ref, manifest.base_model.id, ok, why))
            if ok:
                if ctx.install:
                    _take_entry(res, _pull(ctx, published.repo_id, published.revision), ctx)
                else:
                    res.pending = (published.repo_id, published.revision)
                return True
    if not declared:
        res.notes.append(f"no installed plugin declares a published {parsed.task} adapter for "
                         "this chain")
    return False


def _hub_step(
    res: Resolution, parsed: RegistryName, chain: Sequence[str], ctx: _Context
) -> tuple[str, str] | None:
    from cultura.registry.search import search

    shown = redact(ctx.endpoint, ctx.token)
    if ctx.offline:
        res.add(Candidate("hub", "", shown, "", False, "skipped: offline mode is on"))
        return None
    for level in chain:
        try:
            found = search(level, parsed.task, limit=HUB_SEARCH_LIMIT, token=ctx.token,
                           endpoint=ctx.endpoint, offline=False)
        except CulturaError as exc:
            res.add(Candidate("hub", level, shown, "", False, f"search failed: {exc}"))
            return None
        for adapter in found:  # already sorted: downloads desc, then repo id
            revision = parsed.revision or adapter.sha or "main"
            ref = f"hf:{adapter.repo_id}@{revision[:12]} ({adapter.downloads} downloads)"
            manifest, commit, problem = _remote_manifest(ctx, adapter.repo_id, revision)
            if manifest is None:
                res.add(Candidate("hub", level, ref, adapter.base_model, False, problem))
                continue
            if manifest.culture != level or manifest.task != parsed.task:
                res.add(Candidate("hub", level, ref, manifest.base_model.id, False,
                                  f"its cultura.json says {manifest.culture}/{manifest.task}"))
                continue
            ok, why = check_compat(manifest, ctx.base)
            res.add(Candidate("hub", level, ref, manifest.base_model.id, ok, why))
            if ok:
                return adapter.repo_id, commit or revision
    return None


def _resolve_pinned(res: Resolution, pin: LockEntry, lockfile: Lockfile, ctx: _Context) -> None:
    ref = f"hf:{pin.repo}@{pin.commit}" if pin.repo else f"local entry {pin.entry}"
    entry = None
    fresh = False
    if pin.repo and pin.commit:
        entry = ctx.registry.find_commit(pin.repo, pin.commit)
    else:
        entry = next((e for e in ctx.registry.entries(pin.culture, pin.task)
                      if e.entry_id == pin.entry), None)
    if entry is None:
        if not pin.repo or not pin.commit:
            raise OfflineError(
                f"{pin.name} is pinned in {lockfile.path} to {ref}, an adapter installed from a "
                "folder, which is not in the local registry; install that folder again"
            )
        if ctx.offline:
            raise OfflineError(
                f"{pin.name} is pinned in {lockfile.path} to {ref}, which is not in the local "
                f"registry, and offline mode is on; run `cultura pull hf:{pin.repo}@{pin.commit}` "
                "while online"
            )
        if not ctx.install:
            res.add(Candidate("lock", "", ref, pin.base_model, True,
                              f"pinned in {lockfile.path}; not installed yet"))
            res.pending = (pin.repo, pin.commit)
            return
        entry = _pull(ctx, pin.repo, pin.commit)
        fresh = True
    try:
        verify_entry(pin, entry, lockfile.path)
    except LockError:
        if fresh:  # what the Hub serves now is not what was locked: keep none of it
            ctx.registry.remove(str(entry.path.resolve()))
        raise
    ok, why = check_compat(entry.manifest(), ctx.base)
    if not ok:
        raise ResolutionError(
            f"{pin.name} is pinned in {lockfile.path} to {ref}, which does not fit the base "
            f"model: {why}. Lock a compatible adapter (`cultura lock {pin.name} --base ...`)"
        )
    res.add(Candidate("lock", "", ref, entry.base_model, True,
                      f"pinned in {lockfile.path}; every sha256 matches"))
    res.entry = entry
    res.path = entry.path


def _verify_folder(pin: LockEntry, folder: Path, lockfile: Lockfile) -> None:
    from cultura.registry.store import Origin, hash_files, install_files

    files = install_files(folder)
    pseudo = InstalledAdapter(
        culture=pin.culture, task=pin.task, entry_id=pin.entry, path=folder,
        origin=Origin("local", path=str(folder)), installed_at="", base_model=pin.base_model,
        fingerprint="", files=hash_files(folder, files),
    )
    verify_entry(pin, pseudo, lockfile.path)


def _resolve_hub_name(res: Resolution, parsed: HubName, ctx: _Context) -> None:
    entries = ctx.registry.find(parsed)
    evaluated = [(e, *check_compat(e.manifest(), ctx.base)) for e in entries]
    fits = sorted((e for e, ok, _ in evaluated if ok), key=lambda e: _local_key(e, ctx.base))
    chosen = fits[0] if fits else None
    for entry, _ok, why in evaluated:
        res.add(Candidate("local", entry.culture, f"{entry.entry_id} ({entry.origin.describe()})",
                          entry.base_model, entry is chosen,
                          why + ("; installed (cultura pull --force to refresh)"
                                 if entry is chosen else "")))
    if chosen is not None:
        _take_entry(res, chosen, ctx)
        return
    if ctx.offline:
        raise OfflineError(
            f"{parsed} is not in the local registry ({ctx.registry.home}) and offline mode is "
            f"on; run `cultura pull {parsed}` while online"
        )
    if not ctx.install:
        manifest, commit, problem = _remote_manifest(ctx, parsed.repo_id, parsed.revision)
        ok, why = check_compat(manifest, ctx.base) if manifest else (False, problem)
        res.add(Candidate("hub", "", str(parsed), manifest.base_model.id if manifest else "",
                          ok, why))
        if ok:
            res.pending = (parsed.repo_id, commit or parsed.revision or "main")
        return
    entry = _pull(ctx, parsed.repo_id, parsed.revision, culture=ctx.culture, task=ctx.task,
                  labels=ctx.labels, base=ctx.base.id if ctx.base else None)
    ok, why = check_compat(entry.manifest(), ctx.base)
    res.add(Candidate("hub", entry.culture, f"{entry.entry_id} ({entry.origin.describe()})",
                      entry.base_model, ok, why))
    if not ok:
        raise ResolutionError(f"{parsed} does not fit the base model: {why}")
    _take_entry(res, entry, ctx)


def resolve(
    name: str | AdapterName,
    *,
    base: Any = None,
    offline: bool | None = None,
    lock: str | Path | bool | None = None,
    install: bool = True,
    culture: str | None = None,
    task: str | None = None,
    labels: Sequence[str] | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    registry: LocalRegistry | None = None,
    manager: PluginManager | None = None,
    progress: bool = True,
) -> Resolution:
    """Find the adapter ``name`` refers to (see the module docstring for the order).

    With ``install`` (the default) a chosen Hub adapter is downloaded, verified and installed,
    and :attr:`Resolution.path` is a directory ready to load; with ``install=False`` nothing
    is downloaded and :attr:`Resolution.pending` names what would be. ``culture``/``task``/
    ``labels`` describe a plain PEFT repo named ``hf:ORG/REPO`` (see
    :mod:`cultura.registry.interop`). Raises :class:`ResolutionError` (with the explanation)
    when nothing fits, :class:`OfflineError` when something needed is not installed offline,
    and :class:`~cultura.registry.errors.LockError` when a lockfile pin does not match.
    """
    parsed = parse(name)
    off = is_offline(offline)
    ctx = _Context(
        base=describe_base(base, offline=off, endpoint=endpoint, token=token),
        offline=off, install=install, token=token, endpoint=hub_endpoint(endpoint),
        registry=registry or LocalRegistry(), manager=manager, progress=progress,
        culture=culture, task=task, labels=labels,
    )
    res = Resolution(str(parsed), ctx.base.label() if ctx.base else None)
    lockfile = find_lockfile(lock)
    if isinstance(parsed, PathName):
        folder = parsed.resolved()
        if not folder.is_dir():
            raise ResolutionError(f"{parsed}: no such adapter directory ({folder})")
        manifest = verify_artifact(folder)
        pin = lockfile.get(parsed) if lockfile is not None else None
        if pin is not None and lockfile is not None:
            _verify_folder(pin, folder, lockfile)
        ok, why = check_compat(manifest, ctx.base)
        res.add(Candidate("path", manifest.culture, str(folder), manifest.base_model.id, ok,
                          why + ("; every sha256 matches the lockfile" if pin else "")))
        if not ok:
            raise ResolutionError(f"{parsed} does not fit the base model: {why}")
        res.path = folder
        return res
    if lockfile is not None:
        pin = lockfile.get(parsed)
        if pin is not None:
            _resolve_pinned(res, pin, lockfile, ctx)
            return res
        res.notes.append(f"{parsed} is not pinned in {lockfile.path}; resolving unpinned")
    if isinstance(parsed, HubName):
        _resolve_hub_name(res, parsed, ctx)
        return res
    assert isinstance(parsed, RegistryName)
    chain = Culture.parse(parsed.culture).chain()
    res.chain = chain
    if _local_step(res, parsed, chain, ctx) or _plugin_step(res, parsed, chain, ctx):
        return res
    found = _hub_step(res, parsed, chain, ctx)
    if found is not None:
        if ctx.install:
            _take_entry(res, _pull(ctx, *found), ctx)
        else:
            res.pending = found
        return res
    base_text = f" compatible with base {ctx.base.label()}" if ctx.base else ""
    raise ResolutionError(
        f"no adapter for {parsed}{base_text}.\n{res.explain()}\n"
        "Train one (`cultura train`), pull one by repo (`cultura pull hf:ORG/REPO`), or "
        "install a plugin that declares one"
    )


def best_hub_candidate(
    name: RegistryName,
    *,
    base: Any = None,
    token: str | None = None,
    endpoint: str | None = None,
    offline: bool = False,
    manager: PluginManager | None = None,
) -> tuple[str, str]:
    """The (repo id, commit) ``cultura pull`` downloads for ``name``: the first compatible
    adapter declared by a plugin, else the Hub search's pick (as in :func:`resolve`)."""
    ctx = _Context(
        base=describe_base(base, offline=offline, endpoint=endpoint, token=token),
        offline=offline, install=False, token=token, endpoint=hub_endpoint(endpoint),
        registry=LocalRegistry(), manager=manager, progress=False,
    )
    res = Resolution(str(name), ctx.base.label() if ctx.base else None)
    chain = Culture.parse(name.culture).chain()
    res.chain = chain
    declared = _declared(name.culture, name.task, manager)
    for level in chain:  # adapters declared by installed plugins come first, as in resolve()
        for published, prov in sorted(declared.get(level, []),
                                      key=lambda x: (x[0].repo_id, x[0].revision)):
            if name.revision and name.revision != published.revision:
                continue
            manifest, commit, problem = _remote_manifest(ctx, published.repo_id,
                                                         published.revision)
            ok, why = check_compat(manifest, ctx.base) if manifest else (False, problem)
            res.add(Candidate("plugin", level, f"hf:{published.repo_id}@{published.revision} "
                              f"(declared by {prov})", published.base_model, ok, why))
            if ok:
                return published.repo_id, commit or published.revision
    found = _hub_step(res, name, chain, ctx)
    if found is None:
        raise ResolutionError(f"no adapter for {name} on the Hub at "
                              f"{redact(ctx.endpoint, token)}.\n{res.explain()}")
    return found


def load(
    name: str,
    *,
    base: Any = None,
    offline: bool | None = None,
    lock: str | Path | bool | None = None,
    explain: bool = False,
    culture: str | None = None,
    task: str | None = None,
    labels: Sequence[str] | None = None,
    dtype: Any = "auto",
) -> CulturalModel:
    """Load the adapter ``name`` on ``base`` (default: the base model it was trained on).

    >>> model = cultura.load("zh-Hant-TW/sentiment", base="sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> model.predict(["這部電影很好看"])  # doctest: +SKIP

    ``name``: ``<culture>/<task>[@revision]``, ``hf:<org>/<repo>[@revision]`` or a local
    path (``./dir``). ``offline``: work from the local registry only (default: from
    ``HF_HUB_OFFLINE``/``CULTURA_OFFLINE``). ``lock``: a ``cultura.lock`` to verify against
    (default: ``CULTURA_LOCK`` or ``./cultura.lock`` when present; ``False`` ignores it).
    ``explain``: print how the name resolved to stderr. ``culture``/``task``/``labels``: for a
    plain PEFT repo without ``cultura.json``. ``dtype``: the model's precision, as for
    :func:`cultura.load_pretrained` (``"auto"``: bfloat16 on a GPU that supports it, else float32).
    """
    from cultura.adapt.precision import canonical_dtype

    canonical_dtype(dtype)  # a bad name fails before anything resolves
    res = resolve(name, base=base, offline=offline, lock=lock, culture=culture, task=task,
                  labels=labels)
    if explain:
        print(res.explain(), file=sys.stderr)
    from cultura.adapt.model import load_pretrained

    assert res.path is not None
    model = load_pretrained(res.path, base=base, verify=True, dtype=dtype)
    origin = res.entry.origin if res.entry is not None else None
    model.source = {  # what a task adapter stacked on it records (start_from)
        "name": str(res.name),
        "revision": (origin.commit or origin.revision) if origin is not None else None,
    }
    return model


def lock(
    names: Sequence[str],
    *,
    base: Any = None,
    output: str | Path = "cultura.lock",
    offline: bool | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    registry: LocalRegistry | None = None,
    manager: PluginManager | None = None,
    progress: bool = True,
) -> Lockfile:
    """Resolve (and install) each name and pin it in ``output`` (entries for other names in an
    existing lockfile are kept). A local folder is installed first and pinned by its hashes."""
    from cultura.registry.names import format_name

    registry = registry or LocalRegistry()
    path = Path(output)
    lockfile = Lockfile.read(path) if path.exists() else Lockfile(path)
    for name in names:
        parsed = parse(name)
        if isinstance(parsed, PathName):
            entry = registry.install(parsed.resolved())
        else:
            res = resolve(parsed, base=base, offline=offline, lock=False, token=token,
                          endpoint=endpoint, registry=registry, manager=manager, progress=progress)
            entry = res.entry
        assert entry is not None
        key = format_name(parsed)
        lockfile.set(parsed, LockEntry.from_installed(key, entry))
    lockfile.write()
    return lockfile
