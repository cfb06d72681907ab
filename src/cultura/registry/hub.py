"""Publish, pull and search culture adapters on the Hugging Face Hub.

Everything goes through the real ``huggingface_hub`` client, with the endpoint read from
``HF_ENDPOINT`` at call time (see :mod:`cultura.registry.settings`) and the token from
``HF_TOKEN`` / the stored login unless one is passed. Tokens are never printed or logged;
error messages are passed through :func:`~cultura.registry.settings.redact` as well.

* :func:`publish` validates an artifact, runs the culture's bias checks and any bias data
  files (CrowS-Pairs, StereoSet, with LMS/ICAT minimums) as a gate, rewrites the model card,
  and uploads every file in **one** commit (a failure leaves no partial commit).
* :func:`pull` installs an adapter by name: a Hub repo (:func:`pull_repo`), the best
  compatible adapter for ``<culture>/<task>`` (picked as :mod:`cultura.registry.resolve`
  picks it), or a local folder. :func:`pull_repo` downloads exactly the files
  ``cultura.json`` lists and checks every sha256, every answer of the Hub and an overall
  deadline before anything is installed (see :mod:`cultura.registry.download`).
* :func:`search` lists cultura adapters by tag (:mod:`cultura.registry.search`).

This module is the top of the registry: it imports the resolver, which pulls through
:mod:`cultura.registry.download` and searches through :mod:`cultura.registry.search`, both
built on the checked Hub client of :mod:`cultura.registry.fetch`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt.artifact import (
    CARD,
    MANIFEST,
    PEFT_WEIGHTS,
    ArtifactError,
    Manifest,
    render_card,
    verify_artifact,
    write_atomic,
)
from cultura.core.errors import CulturaError, UnknownCultureError
from cultura.registry.download import fetch_manifest, pull_repo
from cultura.registry.errors import HubError
from cultura.registry.fetch import Fetcher, hub_api, hub_call, require_online, show_progress
from cultura.registry.names import HubName, PathName, RegistryName, parse
from cultura.registry.resolve import best_hub_candidate
from cultura.registry.search import HubAdapter, search
from cultura.registry.settings import hub_endpoint, redact
from cultura.registry.store import InstalledAdapter, LocalRegistry, check_commit

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from cultura.bias.importers import LoadedData
    from cultura.core.plugins import PluginManager

__all__ = [
    "BiasOptionsError",
    "Fetcher",
    "HubAdapter",
    "PublishResult",
    "fetch_manifest",
    "load_bias_data",
    "publish",
    "pull",
    "pull_repo",
    "search",
]

log = logging.getLogger("cultura.registry")


# --------------------------------------------------------------------------- progress
@contextmanager
def _spinner(message: str, enabled: bool) -> Iterator[None]:
    """A spinner on stderr while a single long request runs (only on a terminal)."""
    if not show_progress(enabled):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


# ------------------------------------------------------------------------ publish
@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish` did: where the adapter is and at which commit."""

    repo_id: str
    url: str
    commit: str
    commit_url: str
    revision: str
    files: tuple[str, ...]
    bias: dict[str, Any] | None

    def __str__(self) -> str:
        return f"{self.url} @ {self.commit}"


class BiasOptionsError(CulturaError, ValueError):
    """The publish gate's bias options are out of range or do not fit together (``min_lms``/
    ``min_icat`` without a StereoSet file in ``bias_data``); raised before the artifact is
    loaded or the Hub is asked anything."""


def _stereoset_thresholds(min_lms: float | None, min_icat: float | None) -> str:
    """The StereoSet thresholds given, as option and argument (``--min-lms (min_lms=)``)."""
    return " and ".join(
        f"--{name.replace('_', '-')} ({name}=)"
        for name, value in (("min_lms", min_lms), ("min_icat", min_icat))
        if value is not None
    )


def load_bias_data(
    paths: str | Path | Sequence[str | Path],
    *,
    threshold: float | None = None,
    min_lms: float | None = None,
    min_icat: float | None = None,
) -> tuple[LoadedData, ...]:
    """Read the publish gate's bias data files (CrowS-Pairs CSV, StereoSet JSON, check files:
    :func:`cultura.bias.importers.load_data` decides which a file is) and check that the
    StereoSet thresholds have a StereoSet file to gate. Imports no torch.

    ``threshold`` is the allowed distance from 50 for the benchmark files (0-50; default 10).
    Raises :class:`BiasOptionsError` for a threshold out of range or ``min_lms``/``min_icat``
    without a StereoSet file (without reading any file when ``paths`` is empty), and
    :class:`~cultura.core.errors.DataError` (file, line, field) for a malformed file.
    """
    files = [paths] if isinstance(paths, (str, Path)) else list(paths)
    gated = _stereoset_thresholds(min_lms, min_icat)
    if gated:
        from cultura.bias.engine import StereoSetLimits

        try:
            StereoSetLimits(min_lms, min_icat)
        except CulturaError as exc:
            raise BiasOptionsError(str(exc)) from None
    if threshold is not None:
        if not files:
            raise BiasOptionsError(
                "--bias-threshold (bias_threshold=) applies to the --bias-data (bias_data=) "
                "CrowS-Pairs and StereoSet files, and none was given: add one, or drop it"
            )
        if not 0.0 <= float(threshold) <= 50.0:
            raise BiasOptionsError(
                f"--bias-threshold (bias_threshold=) must be between 0 and 50 points (the "
                f"allowed distance of a CrowS-Pairs or StereoSet score from 50), got {threshold}"
            )
    if gated and not files:
        raise BiasOptionsError(
            f"{gated} gates StereoSet's scores, but no bias data file was given: add a "
            "StereoSet .json (its dev.json or test.json) with --bias-data FILE (bias_data=), "
            f"or drop {gated}"
        )
    from cultura.bias.importers import load_data

    loaded = tuple(load_data(path, threshold=threshold) for path in files)
    if gated and not any(entry.kind == "stereoset" for entry in loaded):
        kinds = {"crows_pairs": "a CrowS-Pairs file", "checks": "a check file"}
        found = "; ".join(f"{entry.path} is {kinds.get(entry.kind, entry.kind)}" for entry in loaded)
        raise BiasOptionsError(
            f"{gated} gates StereoSet's scores, but --bias-data (bias_data=) holds no StereoSet "
            f"file ({found}); a StereoSet file is a .json object with 'data.intrasentence' "
            f"and/or 'data.intersentence' lists: add one, or drop {gated}"
        )
    return loaded


def _bias_gate(
    directory: Path,
    manifest: Manifest,
    *,
    allow_failures: bool,
    manager: PluginManager | None,
    progress: bool,
    data: Sequence[LoadedData] = (),
    min_lms: float | None = None,
    min_icat: float | None = None,
) -> tuple[dict[str, Any] | None, str | None, str]:
    """Run the culture's bias checks and the ``data`` files; returns (summary, markdown, note).

    Raises :class:`cultura.bias.gate.BiasGateError` when a check fails (``min_lms``/``min_icat``
    gate the StereoSet files' LMS and ICAT) and failures are not allowed. The checks are looked
    up first, so an adapter whose culture has none and that gets no data file is not loaded.
    """
    from cultura.core.profile import build_profile

    try:
        profile = build_profile(manifest.culture, manager)
        checks = profile.bias_checks
    except UnknownCultureError:
        checks = ()
    if not checks and not data:
        note = (
            f"no bias checks apply to culture {manifest.culture} (no installed plugin declares "
            "any); publishing without a new bias report (--bias-data FILE gates on a "
            "CrowS-Pairs or StereoSet file)"
        )
        return (dict(manifest.bias) if manifest.bias else None), None, note
    try:
        from cultura.bias.gate import run_gate
    except ImportError as exc:
        raise CulturaError(
            f"{len(checks)} bias check(s) and {len(data)} bias data file(s) apply to "
            f"{directory} (culture {manifest.culture}) but the bias engine cannot be imported "
            f"({exc}); reinstall cultura"
        ) from None
    # raises cultura.bias.gate.BiasGateError (naming each failing check) unless allowed
    report = run_gate(
        directory, culture=manifest.culture, allow_failures=allow_failures,
        data=list(data) or None, manager=manager, progress=progress,
        min_lms=min_lms, min_icat=min_icat,
    )
    if report.passed:
        note = f"bias checks passed ({len(report.ran)} run)"
    else:
        failing = ", ".join(r.check_id for r in report.failures)
        note = f"bias checks FAILED ({failing}); publishing anyway as asked (--allow-bias-failures)"
    return dict(report.summary()), report.to_markdown(), note


#: a licence id as the Hub's card metadata takes it (``apache-2.0``, ``cc-by-sa-4.0``, ``other``)
LICENSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}")


def _check_token(
    api: HfApi, action: str, endpoint: str, repo_id: str, token: str | None,
    say: Callable[[str], None],
) -> None:
    """Fail fast on a missing or bad token, before the bias checks run.

    A Hub-compatible server without ``/api/whoami-v2`` (a mirror, a self-hosted Hub) answers
    404 or 405 there; the token is then checked by the create-repo step instead.
    """
    try:
        with hub_call(f"{action} (step: checking the token)", endpoint, repo_id, token):
            api.whoami()
    except HubError as exc:
        if exc.status not in (404, 405, 501):
            raise
        say(f"note: {endpoint} has no token check (whoami answered {exc.status}); the token is "
            "checked when the repo is created")


def publish(
    directory: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    allow_bias_failures: bool = False,
    bias_data: str | Path | Sequence[str | Path] = (),
    bias_threshold: float | None = None,
    min_lms: float | None = None,
    min_icat: float | None = None,
    commit_message: str | None = None,
    license: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    manager: PluginManager | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    regression: Mapping[str, Any] | None = None,
) -> PublishResult:
    """Publish the adapter artifact in ``directory`` to the Hub repo ``repo_id``, in one commit.

    Steps: read the ``bias_data`` files (:func:`load_bias_data`); verify the artifact (files,
    sha256, manifest); run the culture's bias checks and the ``bias_data`` files as a gate
    (refuse on failure unless ``allow_bias_failures``; the summary goes into ``cultura.json``
    and the card metadata, the report into the card); render the model card;
    create the repo (``private``) and the branch ``revision`` if needed; upload every file and
    delete stale ones in a single commit. On success the rewritten ``cultura.json`` and
    ``README.md`` are written back to ``directory``. ``license`` (an SPDX id such as
    ``cc-by-4.0``) replaces the licence the adapter was saved with, in the manifest and card.

    ``bias_data``: CrowS-Pairs CSV, StereoSet JSON or check files the gate runs as well, even
    when no plugin declares a check for the culture; ``bias_threshold``: the allowed distance
    from 50 for the benchmark files (default 10); ``min_lms``/``min_icat`` (0-100): every
    StereoSet row must also reach this language-model score / ICAT (checks ``<id>.lms``,
    ``<id>.icat``). A threshold out of range or without a StereoSet file raises
    :class:`BiasOptionsError` before the artifact is loaded or the Hub is asked anything.

    Versions are the repo's commits: an adapter that continues another (``lineage`` in its
    manifest, :mod:`cultura.adapt.continual`) whose parent is what ``revision`` holds now gets
    that repo and commit recorded as its parent. ``regression``: the regression gate's result
    (:meth:`cultura.adapt.continual.Comparison.gate_record`), recorded as ``lineage.gate`` in
    the manifest and shown in the card.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    directory = Path(directory)
    say = echo or log.info
    parsed = parse(f"hf:{repo_id}")  # validates org/name
    assert isinstance(parsed, HubName)
    if parsed.revision:
        raise CulturaError(f"--repo takes ORG/NAME without @revision; use --revision for {repo_id}")
    endpoint = hub_endpoint(endpoint)
    branch = revision or "main"
    if license is not None and not LICENSE_ID.fullmatch(license):
        raise CulturaError(
            f"--license {license[:40]!r} is not a licence id; use an SPDX-style id such as "
            "apache-2.0, mit or cc-by-4.0 (the Hub's license field)"
        )
    data = load_bias_data(
        bias_data, threshold=bias_threshold, min_lms=min_lms, min_icat=min_icat
    )
    try:
        manifest = verify_artifact(directory)
    except ArtifactError as exc:
        raise ArtifactError(f"cannot publish: {exc}") from None
    api = hub_api(endpoint, token)
    action = f"publishing {directory} to {repo_id}"
    _check_token(api, action, endpoint, repo_id, token, say)
    summary, bias_md, note = _bias_gate(
        directory, manifest, allow_failures=allow_bias_failures, manager=manager,
        progress=progress, data=data, min_lms=min_lms, min_icat=min_icat,
    )
    say(note)
    lineage = _published_lineage(manifest, repo_id, branch, regression, endpoint, token)
    final = replace(manifest, bias=summary, license=license or manifest.license, lineage=lineage)
    manifest_bytes = final.to_json().encode("utf-8")
    card_bytes = render_card(final, bias_markdown=bias_md, repo_id=repo_id).encode("utf-8")
    files = sorted(set(final.files) | {MANIFEST, CARD})
    with hub_call(f"{action} (step: creating the repo)", endpoint, repo_id, token):
        api.create_repo(repo_id, private=private, exist_ok=True)
    if branch != "main":
        with hub_call(f"{action} (step: creating branch {branch})", endpoint, repo_id, token):
            api.create_branch(repo_id, branch=branch, exist_ok=True)
    with hub_call(f"{action} (step: listing the repo's files)", endpoint, repo_id, token):
        remote = set(api.list_repo_files(repo_id, revision=branch))
    with hub_call(f"{action} (step: uploading the commit)", endpoint, repo_id, token):
        operations: list[Any] = [
            CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(directory / rel))
            for rel in sorted(final.files)
        ]
        operations += [
            CommitOperationAdd(path_in_repo=MANIFEST, path_or_fileobj=manifest_bytes),
            CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card_bytes),
        ]
        operations += [
            CommitOperationDelete(path_in_repo=rel)
            for rel in sorted(remote - set(files) - {".gitattributes"})
        ]
        message = commit_message or (
            f"cultura: publish {final.culture}/{final.task} adapter (base {final.base_model.id})"
        )
        size = sum((directory / rel).stat().st_size for rel in final.files)
        with _spinner(f"uploading {len(operations)} file operation(s), {size / 1024:.0f} KiB, "
                     f"to {repo_id} in one commit", progress):
            info = api.create_commit(
                repo_id, operations, commit_message=message, revision=branch
            )
    commit = check_commit(info.oid, repo_id)
    write_atomic(directory / MANIFEST, manifest_bytes)
    write_atomic(directory / CARD, card_bytes)
    url = redact(f"{endpoint}/{repo_id}" + (f"/tree/{branch}" if branch != "main" else ""), token)
    return PublishResult(
        repo_id=repo_id,
        url=url,
        commit=commit,
        commit_url=redact(str(info.commit_url), token),
        revision=branch,
        files=tuple(files),
        bias=summary,
    )


def _published_lineage(
    manifest: Manifest, repo_id: str, branch: str, regression: Mapping[str, Any] | None,
    endpoint: str, token: str | None,
) -> dict[str, Any] | None:
    """The lineage the published manifest records: the gate's result, and the parent's repo
    and commit when the parent is the adapter ``branch`` holds now (same weights sha256)."""
    lineage = dict(manifest.lineage) if manifest.lineage else None
    if regression is not None:
        lineage = lineage or {"version": 1, "parent": None, "ancestors": [], "rehearsal": None,
                              "penalty": None}
        lineage["gate"] = dict(regression)
    parent = (lineage or {}).get("parent")
    if lineage is None or not parent or parent.get("revision") or not parent.get("adapter_sha256"):
        return lineage
    try:
        head, commit = fetch_manifest(repo_id, branch, token=token, endpoint=endpoint)
    except HubError as exc:
        if exc.status != 404:  # a repo or branch not there yet has no parent to find
            raise
        return lineage
    if head is not None and head.files.get(PEFT_WEIGHTS) == parent["adapter_sha256"]:
        lineage["parent"] = {**parent, "repo": repo_id, "revision": commit}
    return lineage


# --------------------------------------------------------------------------- pull
def pull(
    name: str,
    *,
    base: Any = None,
    culture: str | None = None,
    task: str | None = None,
    labels: Sequence[str] | None = None,
    force: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    registry: LocalRegistry | None = None,
    offline: bool | None = None,
    manager: PluginManager | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> InstalledAdapter:
    """Download, verify and install the adapter ``name`` into the local registry.

    ``name`` is ``hf:<org>/<repo>[@revision]`` (that repo; for a plain PEFT repo ``base``
    replaces the base model its config names), ``<culture>/<task>[@revision]`` (the best
    compatible adapter on the Hub, walking the culture's fallback chain; ``base`` filters by
    base model) or a local path (installs that directory). ``timeout``: seconds the download
    may take in all (default ``CULTURA_PULL_TIMEOUT``, 1800).
    """
    parsed = parse(name)
    registry = registry or LocalRegistry()
    if isinstance(parsed, PathName):
        folder = parsed.resolved()
        if not folder.is_dir():
            raise CulturaError(f"{name}: no such directory")
        return registry.install(folder, overwrite=force)
    if isinstance(parsed, HubName):
        return pull_repo(
            parsed.repo_id, parsed.revision, culture=culture, task=task, labels=labels,
            base=base if isinstance(base, str) else None, force=force, token=token,
            endpoint=endpoint, registry=registry, offline=offline, progress=progress,
            timeout=timeout,
        )
    assert isinstance(parsed, RegistryName)
    require_online(offline, f"cannot pull {name}")
    repo_id, revision = best_hub_candidate(
        parsed, base=base, token=token, endpoint=endpoint, offline=bool(offline), manager=manager
    )
    return pull_repo(
        repo_id, revision, force=force, token=token, endpoint=endpoint, registry=registry,
        offline=offline, progress=progress, timeout=timeout,
    )
