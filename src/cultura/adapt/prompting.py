"""Few- and zero-shot classification: prompts from a culture's heads, verbalizer scoring.

* :func:`prompt` (``cultura.prompt``) builds a prompt for one of a culture's ``seq-cls`` heads:
  the plugin's instruction and example layout (:class:`~cultura.core.types.PromptTemplate`, on
  the head spec the ``cultura_adapter_heads`` hook gives), the labels as verbalizers in the
  culture's language, few-shot examples (given, or drawn from the head's sample data) and the
  culture knowledge retrieved for the text (:class:`~cultura.adapt.knowledge.KnowledgeInjector`,
  placed with the knowledge source's ``causal-lm`` template). It returns a frozen
  :class:`Prompt`; no model is involved and torch is not imported.
* :class:`ZeroShotClassifier` classifies with a :class:`~cultura.adapt.cultural_model.CulturalModel`'s
  network and no trained head:

  - ``loglik`` (causal LMs): every verbalizer is scored by the log-likelihood of its tokens
    after the prompt, length-normalized by default (``normalization="mean"``: the mean token
    log-probability, so a verbalizer of three tokens is not penalized against one of one;
    ``"sum"``: the total log-probability, the probability of the whole verbalizer);
  - ``similarity`` (encoders): the cosine of the mean-pooled last hidden states of the text and
    of each label's name (or description) in the culture's language.

  Its predictions have the format of a ``seq-cls`` head's
  (:meth:`CulturalModel.predict <cultura.adapt.cultural_model.CulturalModel.predict>`); the
  ``score`` is a softmax over the labels' scores (the cosines divided by
  :data:`SIMILARITY_TEMPERATURE`).
* :func:`~cultura.adapt.zeroshot.zero_shot` (``cultura.zero_shot``) wraps a plain base model (a Hub id or path, e.g. an
  instruction-tuned ``Qwen/Qwen2.5-0.5B-Instruct``) with the culture's normalizers and returns
  a :class:`ZeroShotClassifier`; ``CulturalModel.predict(texts, zero_shot=True)`` does the same
  with an adapter's network.

See docs/zero-shot.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt.knowledge import KnowledgeInjector, Retrieved
from cultura.core.errors import CulturaError
from cultura.core.types import AdapterHeadSpec, PromptTemplate

if TYPE_CHECKING:
    import numpy as np

    from cultura.adapt.cultural_model import CulturalModel
    from cultura.core.plugins import PluginManager
    from cultura.core.profile import CultureProfile

__all__ = [
    "DEFAULT_K",
    "DEFAULT_TEMPLATE",
    "METHODS",
    "NORMALIZATIONS",
    "SIMILARITY_TEMPERATURE",
    "Prompt",
    "Prompter",
    "Shot",
    "ZeroShotClassifier",
    "mean_pooled",
    "prompt",
]

#: the prompt of a head whose plugin gives none (plugins give one in their language)
DEFAULT_TEMPLATE = PromptTemplate(
    "Classify the text as one of: {labels}.", "Text: {text}\nAnswer: {label}", label_separator=", "
)
#: knowledge entries retrieved per prompt by default
DEFAULT_K = 2
#: zero-shot scoring methods: verbalizer log-likelihood (causal LMs), label-name similarity
METHODS: tuple[str, ...] = ("loglik", "similarity")
#: how ``loglik`` turns token log-probabilities into a verbalizer's score
NORMALIZATIONS: tuple[str, ...] = ("mean", "sum")
#: cosines are divided by this before the softmax that gives ``similarity`` scores (the
#: temperature of contrastive sentence encoders such as SimCSE)
SIMILARITY_TEMPERATURE = 0.05


@dataclass(frozen=True)
class Shot:
    """A few-shot example: its (normalized) text and label name."""

    text: str
    label: str


@dataclass(frozen=True)
class Prompt:
    """A prompt for one text (or, with ``query`` ``None``, the layout with ``{text}`` in it).

    Attributes:
        text: the whole prompt; the model's answer follows it directly.
        culture / task: whose head it asks about.
        labels: the head's labels, in id order.
        verbalizers: the word answered for each label (same order), in the culture's language.
        knowledge: the entries retrieved for the text and written into the prompt.
        shots: the few-shot examples written into the prompt, in order.
        query: the text asked about, normalized (``None`` for the bare layout).
    """

    text: str
    culture: str
    task: str
    labels: tuple[str, ...]
    verbalizers: tuple[str, ...]
    knowledge: tuple[Retrieved, ...] = ()
    shots: tuple[Shot, ...] = ()
    query: str | None = None

    def __str__(self) -> str:
        return self.text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``cultura prompt --json`` prints."""
        return {
            "culture": self.culture,
            "task": self.task,
            "prompt": self.text,
            "query": self.query,
            "labels": list(self.labels),
            "verbalizers": dict(zip(self.labels, self.verbalizers, strict=True)),
            "knowledge": [
                {"id": r.entry.id, "source": r.source, "score": round(r.score, 4), "text": r.entry.text}
                for r in self.knowledge
            ],
            "shots": [{"text": s.text, "label": s.label} for s in self.shots],
        }


ShotsArg = int | str | Path | Sequence[Mapping[str, Any] | tuple[str, str] | Shot]


class Prompter:
    """Builds the :class:`Prompt` of one head for any text (shots resolved, knowledge indexed
    once). :func:`prompt` makes one per call; :class:`ZeroShotClassifier` keeps one.

    Args:
        profile: the culture's profile.
        spec: the ``seq-cls`` head asked about.
        shots: few-shot examples: a number (that many from the head's sample data, one label
            after the other, in file order, never the text asked about), a data file
            (``{"text", "label"}`` JSONL/CSV, read like training data), or records
            (``{"text", "label"}`` mappings, ``(text, label)`` pairs or :class:`Shot`);
            labels match the head's after the culture's normalizers.
        knowledge: write the knowledge retrieved for the text into the prompt.
        k: entries retrieved per prompt.
        template: overrides the head's :class:`~cultura.core.types.PromptTemplate`.
    """

    def __init__(
        self,
        profile: CultureProfile,
        spec: AdapterHeadSpec,
        *,
        shots: ShotsArg = (),
        knowledge: bool = True,
        k: int = DEFAULT_K,
        template: PromptTemplate | None = None,
    ) -> None:
        if spec.head_type != "seq-cls":
            raise CulturaError(
                f"prompts classify texts: task {spec.task!r} of {profile.tag} is a "
                f"{spec.head_type} head; pick a seq-cls task (cultura show {profile.tag})"
            )
        if template is not None and not isinstance(template, PromptTemplate):
            raise CulturaError(f"template= must be a PromptTemplate, got {type(template).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise CulturaError(f"k (knowledge entries per prompt) must be an integer >= 0, got {k!r}")
        if template is not None:  # checked against the head's labels as a plugin's is
            spec = dataclasses.replace(spec, prompt=template)
        self.profile = profile
        self.spec = spec
        self.template = spec.prompt or DEFAULT_TEMPLATE
        words = [self.template.verbalizers.get(label, label) for label in spec.labels]
        self.verbalizers = tuple(profile.normalize(words))
        if len(set(self.verbalizers)) != len(self.verbalizers):
            raise CulturaError(
                f"task {spec.task!r} of {profile.tag}: the verbalizers {words!r} coincide after "
                "the culture's normalizers; give distinct verbalizers in the prompt template"
            )
        self.descriptions = tuple(profile.normalize(
            [self.template.descriptions.get(label, word) for label, word in zip(spec.labels, words, strict=True)]
        ))
        self.k = k
        self.injector: KnowledgeInjector | None = None
        if knowledge and k and profile.knowledge:
            self.injector = KnowledgeInjector.from_profile(profile, "causal-lm", top_k=k)
        self.count, self.pool = self._shots(shots)

    # ------------------------------------------------------------------ shots
    def _shots(self, shots: ShotsArg) -> tuple[int | None, tuple[Shot, ...]]:
        """``(how many to draw per prompt or None for all, the shots in file order)``."""
        if isinstance(shots, bool):
            raise CulturaError("shots= takes a number, a data file or examples, not a boolean")
        if isinstance(shots, int):
            if shots < 0:
                raise CulturaError(f"shots= must be >= 0, got {shots}")
            if shots == 0:
                return 0, ()
            if self.spec.sample_data is None:
                raise CulturaError(
                    f"task {self.spec.task!r} of {self.profile.tag} has no sample data to draw "
                    f"{shots} shots from; pass shots as a data file or as examples"
                )
            return shots, self._read(self.spec.sample_data())
        if isinstance(shots, (str, Path)):
            return None, self._read(shots)
        records: list[Mapping[str, Any]] = []
        for i, item in enumerate(shots):
            if isinstance(item, Shot):
                records.append({"text": item.text, "label": item.label})
            elif isinstance(item, Mapping):
                records.append(item)
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                records.append({"text": item[0], "label": item[1]})
            else:
                raise CulturaError(
                    f"shots[{i}]: expected a {{'text', 'label'}} mapping or a (text, label) pair, "
                    f"got {type(item).__name__}"
                )
        return None, self._read(records) if records else ()

    def _read(self, data: Any) -> tuple[Shot, ...]:
        from cultura.adapt.data import load_examples

        examples = load_examples(data, "seq-cls", self.spec.labels, normalize=self.profile.normalize)
        texts = self.profile.normalize([e.text or "" for e in examples])
        return tuple(
            Shot(text, self.spec.labels[e.label])
            for text, e in zip(texts, examples, strict=True)
            if e.label is not None
        )

    def shots_for(self, query: str | None) -> tuple[Shot, ...]:
        """The shots of the prompt for ``query`` (a drawn shot never repeats the query)."""
        if self.count is None:
            return self.pool
        others = [s for s in self.pool if s.text != query]
        return _round_robin(others, self.spec.labels)[: self.count]

    # ------------------------------------------------------------------ prompts
    def build(self, text: str | None = None) -> Prompt:
        """The prompt for ``text`` (normalized here); ``None``: the layout with ``{text}``."""
        template = self.template
        query = self.profile.normalize(text) if text is not None else None
        shots = self.shots_for(query)
        by_label = dict(zip(self.spec.labels, self.verbalizers, strict=True))
        retrieved: list[Retrieved] = []
        block = template.query(query if query is not None else "{text}")
        if query is not None and self.injector is not None:
            retrieved = self.injector.retrieve(query)
            if retrieved:
                context = self.injector.context(retrieved)
                if "{text}" in self.injector.template:
                    block = self.injector.prompt(block, context)
                else:
                    block = self.injector.template.format(knowledge=context) + "\n" + block
        parts = [template.head(self.verbalizers)] if template.instruction else []
        parts += [template.shot(s.text, by_label[s.label]) for s in shots]
        parts.append(block)
        return Prompt(
            text=template.separator.join(parts),
            culture=self.profile.tag,
            task=self.spec.task,
            labels=self.spec.labels,
            verbalizers=self.verbalizers,
            knowledge=tuple(retrieved),
            shots=shots,
            query=query,
        )


def _round_robin(shots: Sequence[Shot], labels: Sequence[str]) -> tuple[Shot, ...]:
    """``shots`` reordered one label after the other (each label's in file order), so the
    first n cover as many labels as n allows."""
    queues = {label: [s for s in shots if s.label == label] for label in labels}
    out: list[Shot] = []
    while any(queues.values()):
        for label in labels:
            if queues[label]:
                out.append(queues[label].pop(0))
    return tuple(out)


def _profile(culture: str | CultureProfile, manager: PluginManager | None) -> CultureProfile:
    from cultura.core.profile import CultureProfile
    from cultura.core.profile import culture as get_profile

    if isinstance(culture, CultureProfile):
        return culture
    if not isinstance(culture, str) or not culture:
        raise CulturaError(f"culture must be a BCP-47 tag such as 'zh-Hans', got {culture!r}")
    return get_profile(culture, manager=manager)


def prompt(
    culture: str | CultureProfile,
    task: str,
    *,
    text: str | None = None,
    shots: ShotsArg = (),
    knowledge: bool = True,
    k: int = DEFAULT_K,
    template: PromptTemplate | None = None,
    manager: PluginManager | None = None,
) -> Prompt:
    """A few- or zero-shot prompt for ``task``, one of ``culture``'s ``seq-cls`` heads.

    The plugin's :class:`~cultura.core.types.PromptTemplate` (``AdapterHeadSpec.prompt``; a
    generic English one, :data:`DEFAULT_TEMPLATE`, when the plugin gives none) lays out the
    instruction with the verbalizers, the shots, then ``text`` with the culture knowledge
    retrieved for it, so the model's answer follows the prompt. ``text``, the shots and the
    knowledge are normalized with the culture's normalizers.

    Args:
        culture: a BCP-47 tag (or a loaded profile).
        task: the head, e.g. ``"sentiment"``.
        text: the text to classify; ``None`` gives the layout with ``{text}`` (no knowledge).
        shots: few-shot examples: a number drawn from the head's sample data, a data file, or
            records (see :class:`Prompter`).
        knowledge: write the knowledge retrieved for ``text`` into the prompt.
        k: knowledge entries retrieved.
        template: use this template instead of the plugin's.
        manager: plugin manager (default: the process-wide one).
    """
    profile = _profile(culture, manager)
    spec = profile.head(task)
    return Prompter(profile, spec, shots=shots, knowledge=knowledge, k=k, template=template).build(text)


# ---------------------------------------------------------------------- zero-shot scoring
class ZeroShotClassifier:
    """Classify with a :class:`~cultura.adapt.cultural_model.CulturalModel`'s network and no
    trained classifier head (see the module docstring).

    Args:
        model: the network (an adapter, or :func:`cultura.zero_shot`'s wrapped base model).
        task: the culture's ``seq-cls`` task to classify for (or its spec); default: the
            model's own task when it is a ``seq-cls`` head.
        method: ``"loglik"`` (needs a causal LM) or ``"similarity"``; default: ``loglik`` for
            a ``causal-lm`` model, ``similarity`` otherwise.
        shots / knowledge / k / template: the prompt (:class:`Prompter`; ``loglik`` only).
        normalization: ``"mean"`` (default) or ``"sum"`` of the verbalizer's token
            log-probabilities.
    """

    def __init__(
        self,
        model: CulturalModel,
        task: str | AdapterHeadSpec | None = None,
        *,
        method: str | None = None,
        shots: ShotsArg = (),
        knowledge: bool = True,
        k: int = DEFAULT_K,
        template: PromptTemplate | None = None,
        normalization: str = "mean",
    ) -> None:
        if task is None:
            if model.head_type != "seq-cls":
                raise CulturaError(
                    f"name the task to classify for (task=...): this model's own task "
                    f"{model.spec.task!r} is a {model.head_type} head"
                )
            spec = _with_offered_prompt(model)
        elif isinstance(task, AdapterHeadSpec):
            spec = task
        else:
            spec = model.profile.head(task)
        if method is None:
            method = "loglik" if model.head_type == "causal-lm" else "similarity"
        if method not in METHODS:
            raise CulturaError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if method == "loglik" and model.head_type != "causal-lm":
            raise CulturaError(
                f"loglik scoring needs a causal LM; this model is a {model.head_type} head on "
                f"{model.base.id}. Use method='similarity' for encoders, or a decoder base"
            )
        if normalization not in NORMALIZATIONS:
            raise CulturaError(
                f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}"
            )
        self.model = model
        self.method = method
        self.normalization = normalization
        self.prompter = Prompter(model.profile, spec, shots=shots, knowledge=knowledge, k=k,
                                 template=template)

    @property
    def spec(self) -> AdapterHeadSpec:
        return self.prompter.spec

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def __repr__(self) -> str:
        return (f"ZeroShotClassifier(culture={self.model.culture!r}, task={self.spec.task!r}, "
                f"method={self.method!r}, base={self.model.base.id!r})")

    def prompts(self, texts: Sequence[str] | str) -> list[Prompt]:
        """The prompt of each text (what ``loglik`` scores the verbalizers after)."""
        return [self.prompter.build(t) for t in _texts(texts)]

    def scores(self, texts: Sequence[str] | str, *, batch_size: int = 16) -> np.ndarray:
        """Per text and label: the verbalizer's log-likelihood after the prompt (``loglik``;
        mean or sum over its tokens) or the cosine of text and label (``similarity``);
        ``[n, num_labels]``, float64."""
        if batch_size < 1:
            raise CulturaError(f"batch_size must be >= 1, got {batch_size}")
        items = _texts(texts)
        if self.method == "loglik":
            return self._loglik(items, batch_size)
        return self._similarity(items, batch_size)

    def predict(
        self, texts: Sequence[str] | str, top_k: int = 1, *, batch_size: int = 16
    ) -> list[dict[str, Any]]:
        """Predictions in a ``seq-cls`` head's format: ``{"text", "label", "score", "top":
        [{"label", "score", "label_id"}, ...]}``; ``score`` is the softmax over the labels'
        scores (:meth:`scores`; cosines divided by :data:`SIMILARITY_TEMPERATURE`)."""
        import numpy as np

        items = _texts(texts)
        raw = self.scores(items, batch_size=batch_size)
        logits = raw / SIMILARITY_TEMPERATURE if self.method == "similarity" else raw
        logits = logits - logits.max(axis=1, keepdims=True) if len(items) else logits
        probs = np.exp(logits)
        probs = probs / probs.sum(axis=1, keepdims=True) if len(items) else probs
        out = []
        for text, row in zip(items, probs, strict=True):
            order = sorted(range(len(self.labels)), key=lambda i: (-row[i], i))[: max(1, top_k)]
            top = [{"label": self.labels[i], "score": float(row[i]), "label_id": i} for i in order]
            out.append({"text": text, "label": top[0]["label"], "score": top[0]["score"], "top": top})
        return out

    # ------------------------------------------------------------------ loglik
    def _token_ids(self, prompt: Prompt) -> tuple[list[int], list[list[int]]]:
        """The prompt's ids and each verbalizer's continuation ids. The prompt is encoded with
        the tokenizer's leading special tokens (a BOS) and no trailing ones; spaces ending the
        prompt go with the verbalizer (``"Answer: "`` + ``"yes"`` is scored as ``"Answer:"``
        + ``" yes"``, as BPE tokenizers split it). A verbalizer's ids are what encoding prompt
        + verbalizer adds after the prompt's, or, when the two merge across the boundary, the
        verbalizer encoded alone."""
        tok = self.model.tokenizer
        text = prompt.text.rstrip(" ")
        trailing = prompt.text[len(text):]
        with tok.normalized_input():  # the prompt's parts are normalized already
            lead = tok("", add_special_tokens=True)["input_ids"]
            bos = tok.bos_token_id
            start = [bos] if bos is not None and lead[:1] == [bos] else []
            context = tok(text, add_special_tokens=False, verbose=False)["input_ids"]
            continuations = []
            for word in prompt.verbalizers:
                whole = tok(text + trailing + word, add_special_tokens=False, verbose=False)["input_ids"]
                if whole[: len(context)] == context and len(whole) > len(context):
                    continuations.append(whole[len(context):])
                else:
                    continuations.append(tok(trailing + word, add_special_tokens=False, verbose=False)["input_ids"])
        if not start + context:
            raise CulturaError("the prompt encodes to no tokens; give the template an instruction "
                               "or a text")
        return start + context, continuations

    def _loglik(self, texts: list[str], batch_size: int) -> np.ndarray:
        import numpy as np
        import torch

        net = self.model.model
        config = (net.get_base_model() if hasattr(net, "get_base_model") else net).config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        pad = self.model.tokenizer.pad_token_id or 0
        rows: list[tuple[int, int, list[int], int]] = []  # (text, label, ids, prompt length)
        for i, text in enumerate(texts):
            context, continuations = self._token_ids(self.prompter.build(text))
            for j, cont in enumerate(continuations):
                if not cont:
                    raise CulturaError(f"the verbalizer {self.prompter.verbalizers[j]!r} encodes "
                                       "to no tokens; give it a non-empty word")
                ids = context + cont
                if limit is not None and len(ids) > limit:
                    raise CulturaError(
                        f"the prompt for text {i} ({text[:40]!r}) has {len(ids)} tokens with its "
                        f"verbalizer, more than the model's {limit}; use fewer shots (shots=), "
                        "less knowledge (k=) or a shorter text"
                    )
                rows.append((i, j, ids, len(context)))
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        model = self.model.model
        model.eval()
        device = self.model.device
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            width = max(len(r[2]) for r in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for n, (_, _, seq, _) in enumerate(chunk):  # right padding: positions stay 0..len-1
                ids[n, : len(seq)] = torch.tensor(seq)
                mask[n, : len(seq)] = 1
            with torch.no_grad():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
            for n, (i, j, seq, m) in enumerate(chunk):
                targets = torch.tensor(seq[m:])
                token_logp = logp[n, m - 1 : len(seq) - 1].gather(1, targets[:, None])[:, 0]
                total = float(token_logp.double().sum())
                out[i, j] = total / len(targets) if self.normalization == "mean" else total
        return out

    # ------------------------------------------------------------------ similarity
    def _embed(self, texts: list[str], batch_size: int) -> Any:
        return mean_pooled(self.model, texts, batch_size)

    def _similarity(self, texts: list[str], batch_size: int) -> np.ndarray:
        normalized = self.model.profile.normalize(texts) if texts else []
        labels = self._embed(list(self.prompter.descriptions), batch_size)
        if not texts:
            import numpy as np

            return np.zeros((0, len(self.labels)))
        return (self._embed(normalized, batch_size) @ labels.T).double().numpy()


def mean_pooled(model: CulturalModel, texts: Sequence[str], batch_size: int = 64) -> Any:
    """``model``'s mean-pooled last hidden states of normalized ``texts`` (over non-padding
    tokens), L2-normalized: a float32 ``[len(texts), hidden]`` tensor on the CPU."""
    import torch

    net = model.model
    net.eval()
    device = model.device
    tok = model.tokenizer
    rows = []
    for start in range(0, len(texts), batch_size):
        with tok.normalized_input():
            enc = tok(list(texts[start : start + batch_size]), padding=True, truncation=True,
                      max_length=model.max_length, return_tensors="pt")
        inputs = {k: v.to(device) for k, v in enc.items()}
        with torch.no_grad():
            hidden = net(**inputs, output_hidden_states=True).hidden_states[-1].float()
        mask = inputs["attention_mask"][..., None].to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        rows.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
    return torch.cat(rows) if rows else torch.zeros((0, 1))


def _with_offered_prompt(model: CulturalModel) -> AdapterHeadSpec:
    """The model's own spec, with the prompt of the culture's head of the same task and labels
    (a spec read back from ``cultura.json`` has no prompt)."""
    spec = model.spec
    offered = next((c.value for c in model.profile.heads if c.key == spec.task), None)
    if spec.prompt is None and offered is not None and offered.prompt is not None \
            and offered.labels == spec.labels:
        return dataclasses.replace(spec, prompt=offered.prompt)
    return spec


def _texts(texts: Sequence[str] | str) -> list[str]:
    items = [texts] if isinstance(texts, str) else list(texts)
    bad = next((i for i, t in enumerate(items) if not isinstance(t, str)), None)
    if bad is not None:
        raise CulturaError(f"texts[{bad}] is a {type(items[bad]).__name__}; pass strings")
    return items
