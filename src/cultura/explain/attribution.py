"""Token attributions for classifier heads: integrated gradients and occlusion.

:func:`explain` (also :meth:`cultura.CulturalModel.explain`) explains why a ``seq-cls`` head
gives a text a label, or why a ``token-cls`` head tags one word of it, with two methods:

``ig`` — integrated gradients (Sundararajan et al. 2017) on the input embeddings
    The path runs from a baseline input to the real one: every piece of the text replaced by
    the embedding of the pad token (a zero vector when the tokenizer has none), special
    tokens ([CLS], [SEP]) and any injected knowledge segment kept as they are. A piece's
    attribution is ``(x - x') · ∫ ∂f/∂x dα`` over the straight path, ``f`` the target label's
    logit; the integral is a Gauss-Legendre quadrature with ``steps`` nodes. Completeness says
    the attributions sum to ``f(x) - f(x')``; the difference, the *convergence delta*, is
    reported for every text (more steps make it smaller).
``occlusion`` — model-free cross-check
    Each word of the original text (all its pieces) is replaced by the mask token (the pad
    token, else the unknown token, when there is none) and the drop of the target logit is its
    score. No gradients: it only asks the model.

By default both run (``cross_check=True``) and :attr:`Explanation.rank_agreement` is the
Spearman rank correlation of the two methods' word scores; ``method`` picks the one
:attr:`WordAttribution.score` carries.

Attributions are given per tokenizer piece and per word of the ORIGINAL text: the culture's
normalizers may change the text's length, so piece offsets (into the normalized text) are
mapped back by :mod:`cultura.explain.alignment`. Words are the original text's words (one
CJK character, a run of letters/digits/marks, or one other character) merged where one piece
spans several (an added vocabulary token such as 春节 is one piece, so one word).

torch is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from cultura.adapt.cultural_model import _WORD
from cultura.core.errors import CulturaError
from cultura.explain.alignment import Alignment, align

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel

__all__ = [
    "DEFAULT_STEPS",
    "METHODS",
    "Explanation",
    "PieceAttribution",
    "WordAttribution",
    "explain",
    "spearman",
]

#: the attribution methods :func:`explain` offers
METHODS = ("ig", "occlusion")
#: default number of integrated-gradients quadrature nodes
DEFAULT_STEPS: int | str = "auto"
#: ``steps="auto"``: the quadrature starts with the first and doubles until the attributions
#: converge (:func:`within_tolerance`), at most up to the second
AUTO_STEPS = (50, 800)
#: converged: the convergence delta is within this share of the logit difference IG splits
CONVERGED_SHARE = 0.05


def within_tolerance(delta: float, gap: float) -> bool:
    """Whether a convergence ``delta`` is small against the logit difference ``gap``: within
    :data:`CONVERGED_SHARE` of it, plus 1e-3 for a difference near zero."""
    return abs(delta) <= CONVERGED_SHARE * abs(gap) + 1e-3
#: head types :func:`explain` explains
HEADS = ("seq-cls", "token-cls")


@dataclass(frozen=True)
class PieceAttribution:
    """One tokenizer piece of the model's input.

    Attributes:
        token: the piece as the tokenizer writes it (``##ing``, ``[CLS]``, ``春节``).
        token_id: its id.
        segment: ``"text"``, ``"knowledge"`` (injected second segment) or ``"special"``.
        added: whether the piece is a token the culture's vocabulary extension added.
        ig: its integrated-gradients attribution (``None`` when IG did not run; 0 for special
            and knowledge pieces, which the baseline keeps).
        start / end: the span of the ORIGINAL text it comes from (``None`` outside the text).
        normalized_start / normalized_end: its span in the normalized text.
    """

    token: str
    token_id: int
    segment: str
    added: bool
    ig: float | None
    start: int | None
    end: int | None
    normalized_start: int | None
    normalized_end: int | None


@dataclass(frozen=True)
class WordAttribution:
    """One word of the original text.

    Attributes:
        text: the word, as written in the original text (``original[start:end]``).
        start / end: its span in the original text.
        score: the attribution of the chosen method (0 for a word with no pieces).
        ig: the sum of its pieces' IG attributions (``None`` when IG did not run or the word
            has no piece).
        occlusion: the target logit's drop when its pieces are masked (``None`` when
            occlusion did not run or the word has no piece).
        pieces: indices into :attr:`Explanation.pieces`; empty for a word the normalizers
            removed or ``max_length`` cut.
    """

    text: str
    start: int
    end: int
    score: float
    ig: float | None
    occlusion: float | None
    pieces: tuple[int, ...]


@dataclass(frozen=True)
class Explanation:
    """Why the model gives ``text`` the label ``target`` (see the module docstring).

    Attributes:
        text: the original text; normalized: what the model read.
        method: ``"ig"`` or ``"occlusion"``, the method :attr:`WordAttribution.score` carries.
        head_type: ``"seq-cls"`` or ``"token-cls"``.
        culture / task: the adapter's.
        target / target_id: the label explained; predicted: the label the model predicts
            (for token-cls: at the explained word).
        probability: the model's probability of ``target``; logit: its logit ``f(x)``.
        baseline_logit: ``f(x')`` at the IG baseline (``None`` without IG).
        convergence_delta: sum of the IG attributions minus ``f(x) - f(x')`` (``None``
            without IG).
        rank_agreement: Spearman correlation of the IG and occlusion word scores (``None``
            unless both ran on at least two words with varying scores).
        steps: IG quadrature nodes (0 without IG).
        focus: token-cls only, the span of the original text whose tag is explained.
        truncated: whether ``max_length`` cut the text (its last words have no pieces).
        words / pieces: the attributions (see :class:`WordAttribution`,
            :class:`PieceAttribution`).
    """

    text: str
    normalized: str
    method: str
    head_type: str
    culture: str
    task: str
    target: str
    target_id: int
    predicted: str
    probability: float
    logit: float
    baseline_logit: float | None
    convergence_delta: float | None
    rank_agreement: float | None
    steps: int
    focus: tuple[int, int] | None
    truncated: bool
    words: tuple[WordAttribution, ...]
    pieces: tuple[PieceAttribution, ...]

    def top(self, k: int = 3) -> list[WordAttribution]:
        """The ``k`` words with the highest score (ties: the earlier word first)."""
        order = sorted(range(len(self.words)), key=lambda i: (-self.words[i].score, i))
        return [self.words[i] for i in order[:k]]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (spans as ``[start, end]`` lists)."""
        data = asdict(self)
        data["focus"] = list(self.focus) if self.focus is not None else None
        data["words"] = [{**w, "pieces": list(w["pieces"])} for w in data["words"]]
        return data


def explain(
    model: CulturalModel,
    texts: Sequence[str] | str,
    *,
    method: str = "ig",
    target: str | int | None = None,
    steps: int | str = DEFAULT_STEPS,
    token: int | str | None = None,
    cross_check: bool = True,
    knowledge: bool | None = None,
    batch_size: int = 16,
) -> list[Explanation]:
    """Explain ``model``'s decision on each text (see the module docstring).

    Args:
        model: a :class:`~cultura.adapt.cultural_model.CulturalModel` with a ``seq-cls`` or
            ``token-cls`` head.
        texts: one text or a list; as given to :meth:`~CulturalModel.predict` (raw, the
            culture's normalizers run here).
        method: ``"ig"`` (integrated gradients) or ``"occlusion"``.
        target: the label to explain (name or index); default: the predicted one.
        steps: IG quadrature nodes (at least 1), or ``"auto"`` (the default): 50, doubled
            until the attributions converge, at most 800 (measured on the zh demo adapter, 50
            steps often left a delta of most of the logit difference).
        token: token-cls only, the word whose tag is explained: its index among the words
            :meth:`~CulturalModel.predict` returns for the text, or the word itself (its first
            occurrence, compared after normalization); default: the first word tagged as an
            entity (a label other than ``O``), else the first word.
        cross_check: also run the other method and report :attr:`Explanation.rank_agreement`.
        knowledge: inject the culture's knowledge as :meth:`~CulturalModel.predict` does
            (default: as the adapter was trained); the knowledge segment is held fixed.
        batch_size: IG path points / occluded copies per forward pass.
    """
    if method not in METHODS:
        raise CulturaError(f"unknown explanation method {method!r}; use one of {', '.join(METHODS)}")
    if steps != "auto" and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise CulturaError(f"steps must be a positive integer or 'auto', got {steps!r}")
    if batch_size < 1:
        raise CulturaError(f"batch_size must be a positive integer, got {batch_size!r}")
    if model.head_type not in HEADS:
        raise CulturaError(
            f"explain works on seq-cls and token-cls heads; task {model.spec.task!r} has a "
            f"{model.head_type} head. Explain a classifier adapter (e.g. a sentiment or ner "
            "task) instead"
        )
    if token is not None and model.head_type != "token-cls":
        raise CulturaError(
            f"token= chooses the word a token-cls head tags; task {model.spec.task!r} has a "
            f"{model.head_type} head, which labels the whole text: leave token out"
        )
    items = [texts] if isinstance(texts, str) else list(texts)
    bad = [i for i, t in enumerate(items) if not isinstance(t, str)]
    if bad:
        raise CulturaError(f"expected a list of strings; item {bad[0]} is a {type(items[bad[0]]).__name__}")
    run_ig = method == "ig" or cross_check
    run_occlusion = method == "occlusion" or cross_check
    was_training = model.model.training
    model.model.eval()
    try:
        return [
            _explain_one(model, alignment, method, target, steps, token, run_ig, run_occlusion,
                         knowledge, batch_size)
            for alignment in align(items, model.tokenizer.normalize)
        ]
    finally:
        model.model.train(was_training)


# ---------------------------------------------------------------------------- one text
@dataclass
class _Input:
    """A text encoded for the model, with the positions of its pieces."""

    batch: dict[str, Any]
    pieces: list[PieceAttribution]
    text_positions: list[int]
    truncated: bool


def _explain_one(
    model: CulturalModel, alignment: Alignment, method: str, target: str | int | None,
    steps: int | str, token: int | str | None, run_ig: bool, run_occlusion: bool,
    knowledge: bool | None,
    batch_size: int,
) -> Explanation:
    import torch

    if model.head_type == "seq-cls":
        encoded = _encode_text(model, alignment, knowledge)
        position: int | None = None
        focus = None
    else:
        encoded, position, focus = _encode_words(model, alignment, knowledge, token)
    device = model.device
    batch = {k: v.to(device) for k, v in encoded.batch.items() if hasattr(v, "to")}
    with torch.no_grad():
        logits = model.model(**batch).logits.float()
    row = logits[0] if position is None else logits[0, position]
    predicted = int(row.argmax())
    target_id = _target_id(model, target, predicted)
    probability = float(torch.softmax(row, dim=-1)[target_id])
    logit = float(row[target_id])

    def score(out: Any) -> Any:
        values = out.logits.float()
        return values[:, target_id] if position is None else values[:, position, target_id]

    piece_ig: list[float] | None = None
    baseline_logit = delta = None
    used = AUTO_STEPS[0] if steps == "auto" else int(steps)
    if run_ig and encoded.text_positions:
        while True:
            attributions, fx, f0 = integrated_gradients(model, batch, encoded.text_positions,
                                                        score, steps=used, batch_size=batch_size)
            delta = sum(attributions) - (fx - f0)
            if steps != "auto" or used >= AUTO_STEPS[1] or within_tolerance(delta, fx - f0):
                break
            used *= 2
        piece_ig = attributions
        baseline_logit = f0
    elif run_ig:
        piece_ig, baseline_logit, delta = [0.0] * len(encoded.pieces), logit, 0.0
    pieces = [
        p if piece_ig is None else _with_ig(p, piece_ig[i]) for i, p in enumerate(encoded.pieces)
    ]
    groups = _word_groups(alignment.original, pieces)
    occlusion: list[float] | None = None
    if run_occlusion:
        occlusion = _occlusion(model, batch, [g[2] for g in groups], score, logit, batch_size)
    words = []
    for k, (start, end, members) in enumerate(groups):
        ig = sum(pieces[i].ig or 0.0 for i in members) if piece_ig is not None and members else None
        occ = occlusion[k] if occlusion is not None and members else None
        chosen = ig if method == "ig" else occ
        words.append(WordAttribution(alignment.original[start:end], start, end,
                                     chosen if chosen is not None else 0.0, ig, occ, tuple(members)))
    agreement = None
    if piece_ig is not None and occlusion is not None:
        covered = [w for w in words if w.pieces]
        agreement = spearman([w.ig or 0.0 for w in covered], [w.occlusion or 0.0 for w in covered])
    return Explanation(
        text=alignment.original,
        normalized=alignment.normalized,
        method=method,
        head_type=model.head_type,
        culture=model.culture,
        task=model.spec.task,
        target=model.labels[target_id],
        target_id=target_id,
        predicted=model.labels[predicted],
        probability=probability,
        logit=logit,
        baseline_logit=baseline_logit,
        convergence_delta=delta,
        rank_agreement=agreement,
        steps=used if piece_ig is not None else 0,
        focus=focus,
        truncated=encoded.truncated,
        words=tuple(words),
        pieces=tuple(pieces),
    )


def _with_ig(piece: PieceAttribution, value: float) -> PieceAttribution:
    from dataclasses import replace

    return replace(piece, ig=value)


def _target_id(model: CulturalModel, target: str | int | None, predicted: int) -> int:
    labels = model.labels
    if target is None:
        return predicted
    if isinstance(target, int) and not isinstance(target, bool):
        if 0 <= target < len(labels):
            return target
    elif isinstance(target, str):
        if target in labels:
            return labels.index(target)
        normalized = model.profile.normalize(target)
        if normalized in labels:
            return labels.index(normalized)
    raise CulturaError(
        f"target {target!r} is not a label of task {model.spec.task!r}; use one of "
        f"{', '.join(labels)} (or its index 0-{len(labels) - 1}), or leave it out to explain "
        "the predicted label"
    )


def _piece_list(
    model: CulturalModel, encoding: Any, alignment: Alignment, starts: Sequence[int] | None
) -> tuple[list[PieceAttribution], list[int]]:
    """The pieces of one encoded row; ``starts``: per word, its offset in the normalized
    text (pre-tokenized input, whose piece offsets are relative to their word)."""
    # an added token by the text it was added as (a BERT tokenizer stores 春节 as " 春  节 ")
    added = dict(zip(model.added.token_ids, model.added.tokens, strict=True))
    names = [added.get(i, name) for i, name in
             zip(encoding.ids, model.tokenizer.convert_ids_to_tokens(list(encoding.ids)), strict=True)]
    pieces, text_positions = [], []
    for pos, (tok, tok_id, seq, (s, e)) in enumerate(zip(
        names, encoding.ids, encoding.sequence_ids, encoding.offsets, strict=True
    )):
        if seq == 0:
            if starts is not None:
                shift = starts[encoding.word_ids[pos]]
                s, e = s + shift, e + shift
            span = alignment.original_span(s, e)
            pieces.append(PieceAttribution(
                tok, tok_id, "text", tok_id in added, None,
                span[0] if span else None, span[1] if span else None, s, e,
            ))
            text_positions.append(pos)
        else:
            segment = "special" if seq is None else "knowledge"
            pieces.append(PieceAttribution(tok, tok_id, segment, tok_id in added, None,
                                           None, None, None, None))
    return pieces, text_positions


def _encode_text(model: CulturalModel, alignment: Alignment, knowledge: bool | None) -> _Input:
    enc = model.encode([alignment.original], knowledge=knowledge)
    encoding = enc.encodings[0]
    pieces, positions = _piece_list(model, encoding, alignment, None)
    last = max((p.normalized_end or 0 for p in pieces if p.segment == "text"), default=0)
    truncated = bool(alignment.normalized[last:].strip())
    return _Input(dict(enc), pieces, positions, truncated)


def _encode_words(
    model: CulturalModel, alignment: Alignment, knowledge: bool | None, token: int | str | None
) -> tuple[_Input, int, tuple[int, int] | None]:
    """Encode as token classification reads raw text (words as ``predict`` splits them);
    returns the input, the position of the explained word's first piece and its span in the
    original text."""
    import torch

    matches = list(_WORD.finditer(alignment.normalized))
    if not matches:
        raise CulturaError(f"no word to tag in {alignment.original!r}: the text is empty")
    words = [m.group() for m in matches]
    enc = model._encode_words([words], knowledge=knowledge, normalized=True)
    encoding = enc.encodings[0]
    pieces, positions = _piece_list(model, encoding, alignment, [m.start() for m in matches])
    first: dict[int, int] = {}
    for pos, (word, seq) in enumerate(zip(encoding.word_ids, encoding.sequence_ids, strict=True)):
        if seq == 0 and word is not None:
            first.setdefault(word, pos)
    truncated = len(first) < len(words)
    if token is None:
        with torch.no_grad():
            batch = {k: v.to(model.device) for k, v in dict(enc).items() if hasattr(v, "to")}
            tags = model.model(**batch).logits[0].argmax(-1).tolist()
        outside = model.labels.index("O") if "O" in model.labels else 0
        entities = [w for w in sorted(first) if tags[first[w]] != outside]
        index = entities[0] if entities else min(first)
    elif isinstance(token, int) and not isinstance(token, bool):
        index = token
        if not 0 <= index < len(words):
            raise CulturaError(
                f"token {token} is out of range: {alignment.original!r} has {len(words)} words "
                f"(0-{len(words) - 1}: {' '.join(words[:20])})"
            )
    else:
        wanted = model.tokenizer.normalize(str(token))
        if wanted not in words:
            raise CulturaError(
                f"token {token!r} is not a word of {alignment.original!r}; its words are "
                f"{' '.join(words[:40])}"
            )
        index = words.index(wanted)
    if index not in first:
        raise CulturaError(
            f"word {index} ({words[index]!r}) of {alignment.original!r} is beyond the adapter's "
            f"max_length ({model.max_length} tokens): choose an earlier word or a shorter text"
        )
    match = matches[index]
    focus = alignment.original_span(match.start(), match.end())
    return _Input(dict(enc), pieces, positions, truncated), first[index], focus


def _word_groups(original: str, pieces: Sequence[PieceAttribution]) -> list[tuple[int, int, list[int]]]:
    """The original text's words, merged where one piece spans several, each with the indices
    of the text pieces overlapping it, in text order."""
    spans = [m.span() for m in _WORD.finditer(original)]
    parent = list(range(len(spans)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    touched: list[list[int]] = []
    for piece in pieces:
        if piece.segment != "text" or piece.start is None or piece.end is None:
            touched.append([])
            continue
        hit = [w for w, (ws, we) in enumerate(spans) if ws < piece.end and piece.start < we]
        for w in hit[1:]:
            parent[root(w)] = root(hit[0])
        touched.append(hit)
    members: dict[int, list[int]] = {}
    for index, hit in enumerate(touched):
        if hit:
            members.setdefault(root(hit[0]), []).append(index)
    extent: dict[int, tuple[int, int]] = {}
    for w, (ws, we) in enumerate(spans):
        r = root(w)
        lo, hi = extent.get(r, (ws, we))
        extent[r] = (min(lo, ws), max(hi, we))
    return [(s, e, members.get(r, [])) for r, (s, e) in sorted(extent.items(), key=lambda kv: kv[1])]


# ---------------------------------------------------------------------------- the methods
def integrated_gradients(
    model: CulturalModel,
    batch: dict[str, Any],
    positions: Sequence[int],
    score: Any,
    *,
    steps: int,
    batch_size: int,
) -> tuple[list[float], float, float]:
    """IG attributions of every position of one encoded row (0 outside ``positions``, which
    the baseline replaces by the pad embedding), with ``f(x)`` and ``f(x')``.

    ``score(output) -> tensor[k]`` is the target logit of each row of a forward pass.
    Gradients are taken with :func:`torch.autograd.grad`, so no parameter's ``.grad`` changes.
    """
    import numpy as np
    import torch

    from cultura.adapt.cultural_model import _base_model

    embeddings = _base_model(model.model).get_input_embeddings()
    ids = batch["input_ids"]
    others = {k: v for k, v in batch.items() if k != "input_ids"}
    tokenizer = model.tokenizer
    with torch.no_grad():
        x = embeddings(ids)
        if tokenizer.pad_token_id is not None:
            baseline_ids = ids.clone()
            baseline_ids[0, list(positions)] = tokenizer.pad_token_id
            x0 = embeddings(baseline_ids)
        else:
            x0 = x.clone()
            x0[0, list(positions)] = 0
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=x.dtype, device=x.device)
    weights_t = torch.tensor(weights / 2, dtype=torch.float64, device=x.device)
    diff = x - x0
    total = torch.zeros(x.shape[1:], dtype=torch.float64, device=x.device)
    for start in range(0, steps, batch_size):
        a = alphas[start : start + batch_size].view(-1, 1, 1)
        k = a.shape[0]
        point = (x0 + a * diff).detach().requires_grad_(True)
        out = model.model(inputs_embeds=point, **{n: v.expand(k, -1) for n, v in others.items()})
        (grad,) = torch.autograd.grad(score(out).sum(), point)
        w = weights_t[start : start + k].view(-1, 1, 1)
        total += (grad.double() * w).sum(dim=0)
    attributions = (diff[0].double() * total).sum(dim=-1)
    with torch.no_grad():
        ends = torch.cat([x0, x], dim=0)
        f0, fx = (float(v) for v in score(model.model(
            inputs_embeds=ends, **{n: v.expand(2, -1) for n, v in others.items()})))
    return attributions.tolist(), fx, f0


def _occlusion(
    model: CulturalModel, batch: dict[str, Any], units: Sequence[Sequence[int]], score: Any,
    logit: float, batch_size: int,
) -> list[float]:
    """The target logit's drop when each unit's pieces (indices = positions) are masked (0.0
    for a unit without pieces)."""
    import torch

    tokenizer = model.tokenizer
    mask_id = next(i for i in (tokenizer.mask_token_id, tokenizer.pad_token_id,
                               tokenizer.unk_token_id, 0) if i is not None)
    todo = [k for k, unit in enumerate(units) if unit]
    drops = [0.0] * len(units)
    ids = batch["input_ids"]
    others = {k: v for k, v in batch.items() if k != "input_ids"}
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        masked = ids.repeat(len(chunk), 1)
        for row, k in enumerate(chunk):
            masked[row, list(units[k])] = mask_id
        with torch.no_grad():
            out = model.model(input_ids=masked, **{n: v.expand(len(chunk), -1) for n, v in others.items()})
        for k, value in zip(chunk, score(out).tolist(), strict=True):
            drops[k] = logit - float(value)
    return drops


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); ``None`` for fewer than two
    values or when either side is constant."""
    if len(a) != len(b) or len(a) < 2:
        return None
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    if va == 0 or vb == 0:
        return None
    return cov / math.sqrt(va * vb)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks
