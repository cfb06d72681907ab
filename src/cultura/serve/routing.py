"""Routing: which served culture each row of a request goes to.

A row tagged ``zh-Hant-TW`` goes to the adapter served for that tag, else to the first tag on
its fallback chain that is served (``zh-Hant`` -> ``zh``). Clients choose the tags, so the
routes remembered are bounded by :data:`ROUTE_CACHE_SIZE`; tags beyond it are routed again on
every request (a tag parse and a few lookups).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from cultura.core.tags import Culture
from cultura.serve.errors import NotServedError, ServeError

__all__ = ["ROUTE_CACHE_SIZE", "route", "rows_for", "served_list"]

#: distinct request tags whose route is remembered; more are routed (cheaply) every time
ROUTE_CACHE_SIZE = 4096


def served_list(served: Collection[str]) -> str:
    """The served tags for a message (``"none yet"`` when there are none)."""
    return ", ".join(served) or "none yet"


def route(culture: str, served: Collection[str], cache: dict[str, str]) -> str:
    """The tag in ``served`` that rows tagged ``culture`` go to: the tag itself or the first
    tag on its fallback chain that is served. Remembered in ``cache`` while it holds fewer
    than :data:`ROUTE_CACHE_SIZE` routes; raises :class:`NotServedError` when none is served."""
    cached = cache.get(culture)
    if cached is not None:
        return cached
    if not isinstance(culture, str):
        raise ServeError(f"a culture must be a BCP-47 tag string, got {type(culture).__name__}")
    tag = Culture.parse(culture)
    for level in tag.chain():
        if level in served:
            if len(cache) < ROUTE_CACHE_SIZE:  # clients choose the tags: bounded
                cache[culture] = level
            return level
    raise NotServedError(
        f"culture {culture!r} is not served (served: {served_list(served)}); add an adapter for "
        f"it with server.add(..., culture={tag.tag!r})"
    )


def rows_for(texts: Any, cultures: Any, router: Callable[[str], str]) -> tuple[list[str], list[str]]:
    """Check a request's ``texts`` and ``cultures`` (one per text, or one for all) and route
    every row with ``router``; returns the texts and each row's served culture."""
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ServeError(f"texts[{bad[0]}] is a {type(texts[bad[0]]).__name__}, not a string")
    if isinstance(cultures, str):
        cultures = [cultures] * len(texts)
    cultures = list(cultures)
    if len(cultures) != len(texts):
        raise ServeError(
            f"got {len(texts)} texts and {len(cultures)} cultures; pass one culture per text "
            "or one culture for all"
        )
    return texts, [router(c) for c in cultures]
