"""Name grammars shared by the registry (``cultura.registry.names``) and the adapter manifest
(``cultura.adapt.artifact``), defined once here so neither imports the other.

* a task name: lowercase letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit,
  at most 64 characters (``sentiment``, ``ner``, ``news.topic``);
* a Hub org or repo name: letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit,
  not ending in ``.`` or ``-``, at most 96 characters; :func:`is_hub_repo_id` also refuses
  ``--`` and ``..`` (as the Hub does).
"""

from __future__ import annotations

import re

__all__ = ["REPO_PART", "TASK", "is_hub_repo_id"]

TASK = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
REPO_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_])?")


def is_hub_repo_id(text: str) -> bool:
    """Whether ``text`` is a Hub model id: ``repo`` or ``org/repo``, each part valid."""
    parts = text.split("/")
    return 1 <= len(parts) <= 2 and all(
        REPO_PART.fullmatch(p) and "--" not in p and ".." not in p for p in parts
    )
