"""A wide tagger: a linear-chain CRF over what a culture's plugins know about its words.

On real Chinese news (MSRA NER) a fine-tuned token-classification adapter on the embedded
English MiniLM is far behind a CRF on character windows (docs/efficacy.md), because the base
has not read the script. What the culture's plugins know is worth more than the base there: a
word segmenter tells where words start and end, and a bilingual dictionary tells that 北京
is "Beijing" -- a *capitalized* gloss, a proper noun -- and that 主席 is "chairman". So this
tagger is a CRF (CRFsuite's L-BFGS with L1 and L2 penalties) over three groups of features
of each token (a character, for Chinese):

* **window**: the token and its neighbours at ±2, the bigrams around it, the character type
  (han, kana, latin, digit, punctuation...) of it and its neighbours, and the first/last
  characters and length of a multi-character token -- the classical CRF's features;
* **word** (from the culture's segmenter, ``cultura_word_rules``): the token's position in
  its word (``B``/``M``/``E``/``S``), the word, its length, and the words before and after;
* **gloss** (from the gloss-kind :class:`~cultura.core.types.EmbeddingSource` s of the
  culture's vocabulary extensions, the sources :mod:`cultura.adapt.glossview` reads): the
  words of the word's first gloss, whether any gloss is capitalized (a proper noun), the
  words of the neighbouring words' glosses, and whether the token alone has a capitalized
  gloss.

A culture without a segmenter reads each token as a word; one without a gloss source gets no
gloss features. The features were chosen on a development split of the benchmark's training
pool, never on its test set (docs/efficacy.md).

CRFsuite (``python-crfsuite``) fits the weights; they are then read out of its model and kept
as plain arrays, so that a saved tagger is ``tagger.json`` (labels, culture, the feature
names, the settings, the sha256 of the weights) and ``tagger.safetensors`` (state and
transition weights), checked as untrusted data when loaded; decoding (Viterbi, and
forward-backward for the scores) is done here, not by CRFsuite. Described in docs/wide.md.
"""

from __future__ import annotations

import math
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cultura.adapt.wide_adapter import WideAdapter
from cultura.adapt.wide_files import FORMAT_VERSION, read_model_files, write_model_files
from cultura.core.errors import CulturaError

if TYPE_CHECKING:
    import numpy as np

    from cultura.adapt.glossview import GlossView
    from cultura.core.plugins import PluginManager
    from cultura.core.profile import CultureProfile
    from cultura.core.types import WordRules

__all__ = [
    "C1",
    "C2",
    "FORMAT_VERSION",
    "MAX_ITERATIONS",
    "TaggerFeatures",
    "WideTagger",
    "fit_wide_tagger",
]

#: CRFsuite's L1 and L2 penalties and L-BFGS iterations (the classical CRF's settings)
C1 = 0.1
C2 = 0.1
MAX_ITERATIONS = 100
#: the words of a gloss kept as features (the word's own, a neighbour's)
GLOSS_WORDS = 3
NEIGHBOUR_GLOSS_WORDS = 2


# --------------------------------------------------------------------------- features
def _char_type(token: str) -> str:
    c = token[:1]
    if not c:
        return "empty"
    if c.isspace():
        return "space"
    if unicodedata.category(c) == "Nd":
        return "digit"
    name = unicodedata.name(c, "")
    for script in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL"):
        if script in name:
            return script.lower()
    if c.isalpha():
        return "letter"
    return "punct" if unicodedata.category(c).startswith("P") else "other"


def _window(tokens: Sequence[str], i: int) -> dict[str, float]:
    """The classical CRF's features of token ``i`` (module docstring, *window*)."""
    def at(j: int) -> str:
        return tokens[j] if 0 <= j < len(tokens) else ("<s>" if j < 0 else "</s>")

    token = tokens[i]
    kind = _char_type(token)
    feats = {"bias": 1.0, f"t={token}": 1.0, f"type={kind}": 1.0,
             f"t-1|t={at(i - 1)}|{token}": 1.0, f"t|t+1={token}|{at(i + 1)}": 1.0,
             f"type-1={_char_type(at(i - 1)) if i > 0 else '<s>'}": 1.0,
             f"type+1={_char_type(at(i + 1)) if i + 1 < len(tokens) else '</s>'}": 1.0}
    for d in (-2, -1, 1, 2):
        feats[f"t{d:+d}={at(i + d)}"] = 1.0
    if len(token) > 1:
        feats.update({f"first={token[0]}": 1.0, f"last={token[-1]}": 1.0,
                      f"last2={token[-2:]}": 1.0, f"len={min(len(token), 6)}": 1.0})
    return feats


def _gloss_words(senses: Sequence[str], k: int) -> list[str]:
    """The first ``k`` words of the first sense (up to its first ``;``), lower-cased."""
    return senses[0].split(";", 1)[0].lower().split()[:k] if senses else []


def _capitalized(senses: Sequence[str]) -> bool:
    return any(s[:1].isupper() for s in senses)


@dataclass(frozen=True)
class TaggerFeatures:
    """How a culture's tokens become CRF features (module docstring); call it on a batch of
    token lists.

    Attributes:
        rules: the word rules whose segmenter groups tokens into words (``None``: each token
            is a word).
        view: the gloss view whose sources give the glosses (``None``: no gloss features).
    """

    rules: WordRules | None = None
    view: GlossView | None = None

    @property
    def sources(self) -> dict[str, Any]:
        """What the features are read from, as a saved tagger records it."""
        return {"word_rules": self.rules.id if self.rules is not None else None,
                "gloss_sources": list(self.view.labels) if self.view is not None else []}

    def words(self, sentences: Sequence[Sequence[str]]) -> list[list[tuple[int, int]]]:
        """For each token, ``(word number, position)`` with position 0..3 for ``B``, ``M``,
        ``E``, ``S``: the word of the segmenter's split of the joined tokens that holds the
        token's first character (each token a word of its own without a segmenter)."""
        if self.rules is None:
            return [[(i, 3) for i in range(len(tokens))] for tokens in sentences]
        split = self.rules.split(["".join(tokens) for tokens in sentences])
        out = []
        for tokens, words in zip(sentences, split, strict=True):
            owner: list[int] = []  # character -> word number
            for number, word in enumerate(words):
                owner.extend([number] * len(word))
            places, at = [], 0
            for token in tokens:
                number = owner[at] if at < len(owner) else len(words) - 1
                starts = at == 0 or owner[at - 1] != number
                end = at + len(token)
                ends = end >= len(owner) or owner[end] != number if token else True
                places.append((number, {(True, True): 3, (True, False): 0,
                                        (False, True): 2, (False, False): 1}[(starts, ends)]))
                at = end
            out.append(places)
        return out

    def __call__(self, sentences: Sequence[Sequence[str]]) -> list[list[dict[str, float]]]:
        places = self.words(sentences)
        words_of: list[list[str]] = []
        for tokens, place in zip(sentences, places, strict=True):
            words: dict[int, str] = {}
            for token, (number, _) in zip(tokens, place, strict=True):
                words[number] = words.get(number, "") + token
            words_of.append([words[k] for k in sorted(words)])
        senses: dict[str, tuple[str, ...]] = {}
        if self.view is not None:
            wanted = {w for ws in words_of for w in ws} | {t for ts in sentences for t in ts}
            senses = self.view.senses(sorted(wanted))
        out = []
        for tokens, place, words in zip(sentences, places, words_of, strict=True):
            numbers = sorted({n for n, _ in place})
            index = {n: k for k, n in enumerate(numbers)}
            rows = []
            for i, (number, position) in enumerate(place):
                feats = _window(tokens, i)
                k = index[number]
                word = words[k]
                seg = "BMES"[position]
                feats.update({f"seg={seg}": 1.0, f"wlen={min(len(word), 5)}": 1.0,
                              f"seg|type={seg}{_char_type(tokens[i])}": 1.0,
                              f"pw={words[k - 1] if k > 0 else '<s>'}": 1.0,
                              f"nw={words[k + 1] if k + 1 < len(words) else '</s>'}": 1.0})
                if len(word) > 1:
                    feats[f"w={word}"] = 1.0
                    feats[f"w|seg={word}|{seg}"] = 1.0
                if self.view is not None:
                    own = senses.get(word, ())
                    if own:
                        feats["g_known"] = 1.0
                        feats.update({f"g={g}": 1.0 for g in _gloss_words(own, GLOSS_WORDS)})
                        if _capitalized(own):
                            feats["g_cap"] = 1.0
                        if own[0][:1].isupper():
                            feats["g_cap0"] = 1.0
                    for d, name in ((-1, "pg"), (1, "ng")):
                        if 0 <= k + d < len(words):
                            near = _gloss_words(senses.get(words[k + d], ()), NEIGHBOUR_GLOSS_WORDS)
                            feats.update({f"{name}={g}": 1.0 for g in near})
                    if _capitalized(senses.get(tokens[i], ())):
                        feats["tg_cap"] = 1.0
                rows.append(feats)
            out.append(rows)
        return out


def tagger_features(profile: CultureProfile) -> TaggerFeatures:
    """The features ``profile``'s plugins give: the segmenter and the gloss view of
    :mod:`cultura.adapt.glossview`."""
    from cultura.adapt.glossview import gloss_view, segmenter

    return TaggerFeatures(segmenter(profile), gloss_view(profile))


# --------------------------------------------------------------------------- decoding
@dataclass
class _Crf:
    """A linear-chain CRF's weights: ``state[feature, label]``, ``transition[from, to]``."""

    features: Mapping[str, int]
    state: np.ndarray
    transition: np.ndarray

    def emissions(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        """``[tokens, labels]`` scores of one sentence's feature rows (unknown features are
        ignored)."""
        import numpy as np

        out = np.zeros((len(rows), self.state.shape[1]))
        for i, row in enumerate(rows):
            for name, value in row.items():
                k = self.features.get(name)
                if k is not None:
                    out[i] += value * self.state[k]
        return out

    def viterbi(self, emissions: np.ndarray) -> list[int]:
        """The best label sequence."""
        if not len(emissions):
            return []
        score = emissions[0].copy()
        back = []
        for t in range(1, len(emissions)):
            total = score[:, None] + self.transition  # [from, to]
            back.append(total.argmax(0))
            score = total.max(0) + emissions[t]
        path = [int(score.argmax())]
        for pointers in reversed(back):
            path.append(int(pointers[path[-1]]))
        return path[::-1]

    def marginals(self, emissions: np.ndarray) -> np.ndarray:
        """``[tokens, labels]`` marginal probabilities (forward-backward in log space)."""
        import numpy as np

        n = len(emissions)
        if not n:
            return np.zeros((0, self.state.shape[1]))
        alpha = np.zeros_like(emissions)
        beta = np.zeros_like(emissions)
        alpha[0] = emissions[0]
        for t in range(1, n):
            alpha[t] = emissions[t] + _logsumexp(alpha[t - 1][:, None] + self.transition, axis=0)
        for t in range(n - 2, -1, -1):
            beta[t] = _logsumexp(self.transition + emissions[t + 1] + beta[t + 1], axis=1)
        log_z = _logsumexp(alpha[-1], axis=0)
        return np.exp(alpha + beta - log_z)


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    import numpy as np

    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def _train_crf(rows: Sequence[Sequence[Mapping[str, float]]], tags: Sequence[Sequence[str]],
               labels: Sequence[str], c1: float, c2: float, iterations: int,
               on_iteration: Callable[[], None]) -> _Crf:
    """Fit with CRFsuite (L-BFGS, every transition possible) and read the weights out of its
    model, which is written to and read from a private temporary directory."""
    import numpy as np
    import pycrfsuite

    class Trainer(pycrfsuite.Trainer):  # type: ignore[misc]
        def on_iteration(self, log: str, info: dict[str, Any]) -> None:
            on_iteration()

    trainer = Trainer(verbose=False)
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": iterations,
                        "feature.possible_transitions": True})
    for sentence, sequence in zip(rows, tags, strict=True):
        trainer.append(pycrfsuite.ItemSequence(list(sentence)), list(sequence))
    with tempfile.TemporaryDirectory(prefix="cultura-crf-") as tmp:
        model = str(Path(tmp) / "model.crfsuite")
        trainer.train(model)
        reader = pycrfsuite.Tagger()
        reader.open(model)
        info = reader.info()
        reader.close()
    index = {label: k for k, label in enumerate(labels)}
    names = sorted({name for name, _ in info.state_features})
    features = {name: k for k, name in enumerate(names)}
    state = np.zeros((len(names), len(labels)))
    for (name, label), weight in info.state_features.items():
        state[features[name], index[label]] = weight
    transition = np.zeros((len(labels), len(labels)))
    for (first, second), weight in info.transitions.items():
        transition[index[first], index[second]] = weight
    return _Crf(features, state, transition)


# --------------------------------------------------------------------------- the tagger
@dataclass
class WideTagger(WideAdapter):
    """A fitted wide tagger (module docstring); build one with :func:`fit_wide_tagger`, or
    :meth:`load` a saved one.

    Attributes:
        culture / labels: the culture tag and the tags in id order (BIO tags for entities).
        settings: CRFsuite's ``c1``, ``c2`` and ``max_iterations`` the weights were fitted with.
        features: the feature extractor (the culture's segmenter and gloss view).
        profile: the culture profile (its normalizers read the tokens first).
    """

    head_type: ClassVar[str] = "token-cls"

    culture: str
    labels: tuple[str, ...]
    settings: dict[str, float]
    crf: _Crf = field(repr=False)
    features: TaggerFeatures = field(repr=False)
    profile: CultureProfile = field(repr=False)
    #: the task it was saved or loaded as an adapter for (``None``: never)
    task: str | None = None

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[tuple[str, float]]]:
        """Each token's tag and its marginal probability, for token lists (normalized by the
        culture's normalizers first)."""
        rows = self.features(normalized_tokens(self.profile, sentences))
        out = []
        for sentence in rows:
            emissions = self.crf.emissions(sentence)
            path = self.crf.viterbi(emissions)
            marginals = self.crf.marginals(emissions)
            out.append([(self.labels[k], float(marginals[i, k])) for i, k in enumerate(path)])
        return out

    def predict(self, texts: Sequence[str] | Sequence[Sequence[str]] | str, top_k: int = 1,
                ) -> list[dict[str, Any]]:
        """One ``{"text", "words": [{"word", "label", "score", "start", "end"}], "entities":
        [{"type", "start", "end", "text", "score"}]}`` per input, as
        :meth:`CulturalModel.predict <cultura.adapt.cultural_model.CulturalModel.predict>`
        gives for a ``token-cls`` head: raw text is split into words (one per CJK character,
        else runs of letters/digits and single punctuation marks), a list of words is taken as
        given; ``score`` is the tag's marginal probability; ``entities`` are given when the
        labels are BIO tags. ``top_k`` is taken for the same call as any adapter's, and has no
        effect: each word gets its best tag in the best sequence."""
        from cultura.adapt.cultural_model import _entity_spans, words_for_tagging
        from cultura.adapt.metrics import is_bio

        items = [texts] if isinstance(texts, str) else list(texts)
        bad = [i for i, x in enumerate(items)
               if not isinstance(x, str) and not (isinstance(x, (list, tuple)) and all(isinstance(w, str) for w in x))]
        if bad:
            raise CulturaError(f"predict takes texts or lists of words; item {bad[0]} is "
                               f"{type(items[bad[0]]).__name__}")
        words, spans, shown = words_for_tagging(self.profile, items)  # it normalizes as a tokenizer
        tagged = self.tag(words) if words else []
        bio = is_bio(self.labels)
        out = []
        for ws, sp, text, tags in zip(words, spans, shown, tagged, strict=True):
            result: dict[str, Any] = {"text": text, "words": [
                {"word": w, "label": label, "score": score, "start": a, "end": b}
                for w, (a, b), (label, score) in zip(ws, sp, tags, strict=True)]}
            if bio:
                result["entities"] = _entity_spans(text, result["words"])
            out.append(result)
        return out

    def evaluate(self, data: Any, *, text_field: str | None = None, label_field: str | None = None,
                 label_map: Mapping[Any, str] | None = None) -> dict[str, Any]:
        """Token ``accuracy``, ``n`` (sentences) and, for BIO tags, entity-level
        ``entity_precision``, ``entity_recall``, ``entity_f1``, ``entity_support`` and
        ``per_entity_type`` (exact span and type, micro-averaged;
        :func:`cultura.adapt.metrics.entity_metrics`) on ``{tokens, tags}`` data."""
        from cultura.adapt.data import load_examples
        from cultura.adapt.metrics import entity_metrics, is_bio

        examples = load_examples(data, "token-cls", self.labels, text_field=text_field,
                                 label_field=label_field, label_map=label_map,
                                 normalize=self.profile.normalize)
        gold = [[self.labels[k] for k in e.tags or ()] for e in examples]
        pred = [[label for label, _ in row] for row in self.tag([list(e.tokens or ()) for e in examples])]
        tokens = sum(len(g) for g in gold)
        right = sum(a == b for g, p in zip(gold, pred, strict=True) for a, b in zip(g, p, strict=True))
        metrics: dict[str, Any] = {"accuracy": right / tokens if tokens else 0.0, "n": len(examples)}
        if is_bio(self.labels):
            metrics.update(entity_metrics(gold, pred))
        return metrics

    # ------------------------------------------------------------------ saving
    def save(self, directory: str | Path) -> Path:
        """Write ``tagger.json`` and ``tagger.safetensors`` to ``directory`` (created)."""
        import torch
        tensors = {"state": torch.from_numpy(self.crf.state.copy()),
                   "transition": torch.from_numpy(self.crf.transition.copy())}
        meta = {
            "format": "cultura-wide-tagger", "format_version": FORMAT_VERSION,
            "culture": self.culture, "labels": list(self.labels),
            "features": sorted(self.crf.features, key=self.crf.features.__getitem__),
            "settings": dict(self.settings), **self.features.sources,
        }
        return write_model_files(directory, self.head_type, meta, tensors)

    @classmethod
    def load(cls, directory: str | Path, *, manager: PluginManager | None = None) -> WideTagger:
        """Read a saved tagger; every field is checked (it is untrusted data), the weights must
        match the recorded sha256, and the installed plugins must give the culture the word
        rules and gloss sources it was fitted with."""
        from cultura.core.profile import build_profile

        meta, tensors, meta_path, weights_path = read_model_files(
            directory, cls.head_type, "WideTagger")
        n, k = len(meta["features"]), len(meta["labels"])
        for name, shape in {"state": (n, k), "transition": (k, k)}.items():
            tensor = tensors.get(name)
            if tensor is None or tuple(tensor.shape) != shape or not tensor.is_floating_point():
                raise CulturaError(f"{weights_path}: tensor {name!r} must be floating point of shape {shape}")
        profile = build_profile(meta["culture"], manager)
        features = tagger_features(profile)
        recorded = {"word_rules": meta["word_rules"], "gloss_sources": meta["gloss_sources"]}
        if features.sources != recorded:
            raise CulturaError(
                f"{meta_path}: fitted with {recorded}, the installed plugins give {meta['culture']} "
                f"{features.sources}; install the plugin versions it was fitted with"
            )
        crf = _Crf({name: i for i, name in enumerate(meta["features"])},
                   tensors["state"].double().numpy(), tensors["transition"].double().numpy())
        return cls(meta["culture"], tuple(meta["labels"]), meta["settings"], crf, features, profile)


def normalized_tokens(profile: CultureProfile, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Each token through the culture's normalizers, in one batch (a token they empty stays as
    it was)."""
    flat = [t for tokens in sentences for t in tokens]
    done = profile.normalize(flat) if flat else []
    out, at = [], 0
    for tokens in sentences:
        out.append([n or t for t, n in zip(tokens, done[at : at + len(tokens)], strict=True)])
        at += len(tokens)
    return out


def fit_wide_tagger(
    data: Any,
    culture: str,
    *,
    labels: Sequence[str] | None = None,
    c1: float = C1,
    c2: float = C2,
    max_iterations: int = MAX_ITERATIONS,
    text_field: str | None = None,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    progress: bool | None = None,
    manager: PluginManager | None = None,
) -> WideTagger:
    """Fit a :class:`WideTagger` on ``{tokens, tags}`` ``data`` (a file, records or a
    Dataset, read as ``cultura train`` reads token-classification data) for ``culture``.

    ``labels``: the tags in id order (default: the data's, sorted). ``c1``/``c2``/
    ``max_iterations``: CRFsuite's L1 and L2 penalties and L-BFGS iterations. ``progress``:
    a bar of the iterations on stderr (``None``: when stderr is a terminal). The fit is
    deterministic.
    """
    from cultura.adapt.data import labels_from_data, load_examples
    from cultura.adapt.train import _progress, _show_progress, _stderr_console
    from cultura.core.profile import build_profile

    for name, value in (("c1", c1), ("c2", c2)):
        if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
            raise CulturaError(f"{name} must be a non-negative number, got {value!r}")
    if type(max_iterations) is not int or max_iterations < 1:
        raise CulturaError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    profile = build_profile(culture, manager)
    if labels is None:
        labels = labels_from_data(data, "token-cls", label_field=label_field, label_map=label_map,
                                  normalize=profile.normalize)
    labels = tuple(labels)
    examples = [e for e in load_examples(data, "token-cls", labels, text_field=text_field,
                                         label_field=label_field, label_map=label_map,
                                         normalize=profile.normalize) if e.tokens]
    used = Counter(k for e in examples for k in e.tags or ())
    if len(used) < 2:
        raise CulturaError(
            f"the training data needs tokens of at least two tags; it has {sum(used.values())} "
            f"tokens tagged {', '.join(labels[k] for k in used) or 'nothing'}"
        )
    features = tagger_features(profile)
    sentences = normalized_tokens(profile, [list(e.tokens or ()) for e in examples])
    console = _stderr_console()
    with _progress(_show_progress(progress, console), console, loss=False) as bar:
        reading = bar.add_task("reading the words and glosses", total=len(sentences))
        rows = []
        for start in range(0, len(sentences), 256):
            chunk = sentences[start : start + 256]
            rows += features(chunk)
            bar.advance(reading, len(chunk))
        fitting = bar.add_task("fitting the CRF", total=max_iterations)
        crf = _train_crf(rows, [[labels[k] for k in e.tags or ()] for e in examples], labels,
                         c1, c2, max_iterations, lambda: bar.advance(fitting))
    settings = {"c1": float(c1), "c2": float(c2), "max_iterations": max_iterations}
    return WideTagger(str(profile.culture), labels, settings, crf, features, profile)
