"""Culture tags: BCP-47 parsing, canonical form, fallback chains and matching.

A culture is named by a BCP-47 language tag (``zh-Hant-TW``, ``ar-EG``, ``sw``). cultura
works with a *canonical* form of every tag so that spellings of the same culture compare
equal:

* case and separators are normalized and deprecated subtags replaced (``ZH_hant_tw`` ->
  ``zh-Hant-TW``, ``iw`` -> ``he``), via :mod:`langcodes`;
* a script implied by the region is made explicit when it differs from the language's default
  script (``zh-TW`` -> ``zh-Hant-TW``, ``sr-ME`` -> ``sr-Latn-ME``);
* a script equal to the language's default script is dropped (``zh-Hans`` -> ``zh``,
  ``en-Latn-US`` -> ``en-US``), the CLDR generalisation of IANA's Suppress-Script.

The fallback chain of a canonical tag drops, in order, variants, region and script, and ends
with ``und`` (the built-in universal culture)::

    >>> Culture.parse("zh-TW").chain()
    ('zh-Hant-TW', 'zh-Hant', 'zh', 'und')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cultura.core.errors import TagError, UnknownCultureError

UNIVERSAL = "und"
_LANGUAGE = re.compile(r"[a-z]{2,3}|[a-z]{5,8}")
_EXAMPLES = "zh-Hant-TW, ar-EG, sw, hi-IN"


@dataclass(frozen=True, order=True)
class Culture:
    """A parsed, canonical culture tag. Build it with :meth:`Culture.parse`.

    Attributes:
        tag: the canonical tag, e.g. ``"zh-Hant-TW"``.
        language: the language subtag (``"zh"``), ``"und"`` for the universal culture.
        script: an explicit non-default script (``"Hant"``) or ``None``.
        region: region subtag (``"TW"``) or ``None``.
        variants: variant subtags, in order.
    """

    tag: str
    language: str
    script: str | None = None
    region: str | None = None
    variants: tuple[str, ...] = ()

    @staticmethod
    def parse(value: str | Culture) -> Culture:
        """Parse and canonicalize ``value``; raise :class:`TagError` when it is malformed."""
        if isinstance(value, Culture):
            return value
        return _parse(value)

    def chain(self) -> tuple[str, ...]:
        """The fallback chain, most specific first, always ending with ``und``."""
        return _chain(self)

    @property
    def parent(self) -> str | None:
        """The next tag on the fallback chain (``None`` for ``und``)."""
        chain = self.chain()
        return chain[1] if len(chain) > 1 else None

    @property
    def is_universal(self) -> bool:
        return self.tag == UNIVERSAL

    def __str__(self) -> str:
        return self.tag


def _default_script(language: str) -> str | None:
    import langcodes

    return langcodes.Language.get(language).maximize().script


@lru_cache(maxsize=4096)
def _parse(value: str) -> Culture:
    import langcodes

    if not isinstance(value, str):
        raise TagError(
            f"culture tag must be a string, got {type(value).__name__} ({value!r}); "
            f"use a BCP-47 tag such as {_EXAMPLES}"
        )
    text = value.strip()
    if not text:
        raise TagError(f"culture tag is empty; use a BCP-47 tag such as {_EXAMPLES}")
    try:
        standard = langcodes.standardize_tag(text)
        lang = langcodes.Language.get(standard)
    except (langcodes.LanguageTagError, ValueError) as exc:
        raise TagError(
            f"{value!r} is not a valid BCP-47 language tag ({exc}); "
            f"use language[-Script][-REGION], e.g. {_EXAMPLES}"
        ) from None
    if standard.lower() == UNIVERSAL:
        return Culture(tag=UNIVERSAL, language=UNIVERSAL)
    if not lang.language or lang.language == UNIVERSAL or not _LANGUAGE.fullmatch(lang.language):
        raise TagError(
            f"{value!r} has no language subtag ('und' takes no script or region); "
            f"use language[-Script][-REGION], e.g. {_EXAMPLES}"
        )
    if lang.extlangs or lang.extensions or lang.private:
        raise TagError(
            f"{value!r} uses extlang, extension or private-use subtags, which culture tags do "
            f"not support; drop them (e.g. {lang.language}"
            f"{'-' + lang.territory if lang.territory else ''})"
        )
    language = lang.language
    return _build(language, lang.script, lang.territory, lang.variants or ())


def _build(
    language: str, script: str | None, region: str | None, variants: Iterable[str]
) -> Culture:
    """Canonical culture from subtags: make a region-implied script explicit, drop a script
    that is both the language's default and the region's likely one."""
    import langcodes

    likely = None
    if region is not None:
        likely = langcodes.Language.make(language=language, territory=region).maximize().script
    if script is None:
        script = likely
    if script is not None and script == _default_script(language) and likely in (None, script):
        script = None
    variants = tuple(v.lower() for v in variants)
    tag = "-".join(p for p in (language, script, region, *variants) if p)
    return Culture(tag=tag, language=language, script=script, region=region, variants=variants)


@lru_cache(maxsize=4096)
def _chain(culture: Culture) -> tuple[str, ...]:
    if culture.is_universal:
        return (UNIVERSAL,)
    levels: list[str] = [culture.tag]
    truncations = [
        (culture.script, culture.region),  # without variants
        (culture.script, None),  # without region
        (None, None),  # language only
    ]
    for script, region in truncations:
        tag = _build(culture.language, script, region, ()).tag
        if tag not in levels:
            levels.append(tag)
    levels.append(UNIVERSAL)
    return tuple(levels)


def canonical(tag: str | Culture) -> str:
    """The canonical spelling of ``tag`` (raises :class:`TagError` when malformed)."""
    return Culture.parse(tag).tag


def fallback_chain(tag: str | Culture) -> tuple[str, ...]:
    """The fallback chain of ``tag``, most specific first, ending with ``und``."""
    return Culture.parse(tag).chain()


def match(requested: str | Culture, available: Iterable[str | Culture]) -> str:
    """The most specific tag of ``requested``'s fallback chain that ``available`` holds.

    ``und`` only matches when ``available`` holds it explicitly. Raises
    :class:`UnknownCultureError`, naming what is available, when nothing matches.
    """
    culture = Culture.parse(requested)
    served = {Culture.parse(a).tag for a in available}
    for level in culture.chain():
        if level in served:
            return level
    same_language = sorted(t for t in served if Culture.parse(t).language == culture.language)
    hint = (
        f"plugins serve {', '.join(same_language)} for this language"
        if same_language
        else "install a plugin for it (e.g. `pip install cultura-"
        f"{culture.language}`) or write one (`cultura new-plugin {culture.tag}`)"
    )
    raise UnknownCultureError(
        f"no installed plugin serves culture {culture.tag!r} "
        f"(fallback chain {' -> '.join(culture.chain())}); {hint}. "
        f"Served cultures: {', '.join(sorted(served)) or 'none'}"
    )


def display_name(tag: str | Culture, *, native: bool = False) -> str:
    """Human name of a culture, in English or in its own language (``native=True``)."""
    import langcodes

    culture = Culture.parse(tag)
    if culture.is_universal:
        return "Universal"
    lang = langcodes.Language.get(culture.tag)
    try:
        return lang.display_name(culture.tag if native else "en")
    except Exception:  # language_data missing a name: fall back to the tag itself
        return culture.tag
