"""Search the Hub for cultura adapters by tag (``cultura``, ``culture:<tag>``, ``task:<task>``,
``base_model:<id>``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cultura.core.tags import Culture
from cultura.registry.fetch import hub_api, hub_call, require_online
from cultura.registry.names import HubName, try_parse
from cultura.registry.settings import hub_endpoint
from cultura.registry.store import COMMIT_ID

__all__ = ["HubAdapter", "search"]

log = logging.getLogger("cultura.registry")


@dataclass(frozen=True)
class HubAdapter:
    """A cultura adapter found on the Hub."""

    repo_id: str
    sha: str | None
    culture: str
    task: str
    head_type: str
    base_model: str
    downloads: int
    bias: dict[str, Any] | None
    private: bool
    last_modified: str | None

    @property
    def name(self) -> str:
        return f"{self.culture}/{self.task}"

    def bias_summary(self) -> str:
        """``passed (3 run, 1 skipped)``: the card's bias verdict and what it rests on."""
        if not self.bias:
            return "not checked"
        checks = self.bias.get("checks")
        checks = [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
        skipped = sum(1 for c in checks if c.get("status") == "skipped")
        state = "passed" if self.bias.get("passed") is True else "FAILED"
        if not checks:
            return state
        return f"{state} ({len(checks) - skipped} run" + (
            f", {skipped} skipped)" if skipped else ")"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id, "sha": self.sha, "name": self.name,
            "culture": self.culture, "task": self.task, "head_type": self.head_type,
            "base_model": self.base_model, "downloads": self.downloads, "bias": self.bias,
            "private": self.private, "last_modified": self.last_modified,
        }


def _tag_value(tags: Sequence[str], prefix: str) -> str:
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return ""


def _to_adapter(info: Any) -> HubAdapter:
    tags = list(info.tags or [])
    card = info.card_data.to_dict() if info.card_data is not None else {}
    base = card.get("base_model") or _tag_value(tags, "base_model:")
    if isinstance(base, list):
        base = base[0] if base else ""
    bias = card.get("cultura_bias")
    sha = info.sha if isinstance(info.sha, str) and COMMIT_ID.fullmatch(info.sha) else None
    return HubAdapter(
        repo_id=info.id,
        sha=sha,
        culture=_tag_value(tags, "culture:"),
        task=_tag_value(tags, "task:"),
        head_type=_tag_value(tags, "head:"),
        base_model=str(base or ""),
        downloads=int(info.downloads or 0),
        bias=dict(bias) if isinstance(bias, dict) else None,
        private=bool(info.private),
        last_modified=info.last_modified.isoformat() if info.last_modified else None,
    )


def search(
    culture: str | None = None,
    task: str | None = None,
    base: str | None = None,
    *,
    limit: int = 50,
    token: str | None = None,
    endpoint: str | None = None,
    offline: bool | None = None,
) -> list[HubAdapter]:
    """Cultura adapters on the Hub with the exact ``culture`` tag (canonicalized), ``task`` and
    ``base`` model id; most downloaded first, then by repo id."""
    require_online(offline, "cannot search the Hub")
    endpoint = hub_endpoint(endpoint)
    filters = ["cultura"]
    if culture:
        filters.append(f"culture:{Culture.parse(culture).tag}")
    if task:
        filters.append(f"task:{task}")
    if base:
        filters.append(f"base_model:{base}")
    api = hub_api(endpoint, token)
    with hub_call("searching the Hub", endpoint, None, token):
        infos = list(
            api.list_models(filter=filters, cardData=True, full=True, sort="downloads", limit=limit)
        )
    found = []
    for info in infos:  # answers are data: a result with an id that is no Hub id is dropped
        if not isinstance(try_parse(f"hf:{info.id}"), HubName):
            log.warning("search: ignoring a result with the invalid repo id %r", info.id)
            continue
        found.append(_to_adapter(info))
    return sorted(found, key=lambda a: (-a.downloads, a.repo_id))
