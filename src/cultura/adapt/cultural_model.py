"""The :class:`CulturalModel` class: a base model adapted to a culture.

A :class:`CulturalModel` bundles the PEFT model (base + adapter + head), the tweaked tokenizer
(culture normalizers on every encode path, extended vocabulary), the culture profile, the
adapter-head spec and the knowledge injector. It trains (:meth:`CulturalModel.train`),
evaluates, predicts with localized labels, and saves the artifact of design.md §4, which
:func:`~cultura.adapt.loading.load_pretrained` restores exactly (identical logits).

:mod:`cultura.adapt.build` and :mod:`cultura.adapt.loading` construct it; its public home,
with ``adapt`` and ``load_pretrained``, is :mod:`cultura.adapt.model`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cultura.adapt import artifact
from cultura.adapt.artifact import ADDED_TOKENS_FORMAT, BaseModelRef, Manifest
from cultura.adapt.data import Example, load_examples
from cultura.adapt.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EMBEDDING_LR, DEFAULT_LR
from cultura.adapt.knowledge import (
    EncodingStats,
    Injected,
    KnowledgeInjector,
    encode_with_knowledge,
)
from cultura.adapt.tokenizer import AddedVocabulary
from cultura.core.errors import CulturaError
from cultura.core.types import LM_HEAD_TYPES, AdapterHeadSpec

if TYPE_CHECKING:
    import numpy as np
    import torch

    from cultura.adapt.lm import LanguageStart
    from cultura.adapt.train import TrainingHistory
    from cultura.core.profile import CultureProfile

__all__ = ["ADDED_TOKENS_FORMAT", "CulturalModel", "CulturaWarning", "tag_row", "words_for_tagging"]

# a word for token classification of raw text: one CJK/kana/hangul character, a run of other
# letters/digits/marks, or one other non-space character
_WORD = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"
    r"|[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+"
    r"|[^\w\s]"
)


class CulturaWarning(UserWarning):
    """Something differs from when an adapter was saved (plugin versions, knowledge)."""


def _version() -> str:
    from cultura import __version__

    return __version__


class CulturalModel:
    """A base model adapted to a culture (see the module docstring).

    Attributes:
        model: the ``peft.PeftModel`` (base model, adapter and head).
        tokenizer: the tweaked tokenizer (normalizers on every encode path).
        profile: the :class:`~cultura.core.profile.CultureProfile` used.
        spec: the :class:`~cultura.core.types.AdapterHeadSpec` (task, head type, labels).
        knowledge: the :class:`~cultura.adapt.knowledge.KnowledgeInjector` (``None`` when off).
        added: what vocabulary extension did (:class:`~cultura.adapt.tokenizer.AddedVocabulary`).
        base: the base model reference recorded in the manifest.
        max_length: inputs are truncated to this many tokens.
        bias_summary / bias_markdown: set by the bias engine; written to the manifest and card.
        history: the :class:`~cultura.adapt.train.TrainingHistory` of the last ``train``.
        start_from: the language adapter this adapter stacks on
            (:class:`~cultura.adapt.lm.LanguageStart`; ``None`` when it stacks on none).
        masking_generator: the seeded generator choosing masked tokens (``masked-lm`` heads;
            ``train`` seeds it).
        source: where ``cultura.load`` found the adapter (``{"name", "revision"}``), ``None``
            when it was built or loaded from a directory; recorded by ``start_from``.
        dtype: the floating-point precision the model is stored and computes in
            (``torch.float32``, ``torch.bfloat16`` or ``torch.float16``; :meth:`to_dtype`
            changes it). :meth:`train` runs mixed precision in it, with float32 master
            weights for what trains.
    """

    start_from: LanguageStart | None = None
    #: the data each version was trained on, and the version this one continues (manifest
    #: ``training_data`` and ``lineage``; see :mod:`cultura.adapt.continual`)
    training_data: tuple[Mapping[str, Any], ...] = ()
    lineage: Mapping[str, Any] | None = None
    masking_generator: torch.Generator | None = None
    source: Mapping[str, str | None] | None = None

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        profile: CultureProfile,
        spec: AdapterHeadSpec,
        *,
        base: BaseModelRef,
        added: AddedVocabulary,
        knowledge: KnowledgeInjector | None = None,
        max_length: int = 128,
        row_training: str = "",
        split_patterns: Sequence[str] = (),
        license: str = "apache-2.0",
        training: Mapping[str, Any] | None = None,
        files: Mapping[str, str] | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.model = model
        self.dtype = dtype if dtype is not None else _float_dtype(model)
        self.tokenizer = tokenizer
        self.profile = profile
        self.spec = spec
        self.base = base
        self.added = added
        self.knowledge = knowledge
        self.max_length = max_length
        self.row_training = row_training
        self.split_patterns = tuple(split_patterns)
        self.license = license
        self.training_summary: dict[str, Any] = dict(training or {})
        self.bias_summary: Mapping[str, Any] | None = None
        self.bias_markdown: str | None = None
        self.history: TrainingHistory | None = None
        self._files = dict(files or {})

    # ------------------------------------------------------------------ description
    @property
    def culture(self) -> str:
        return self.profile.tag

    @property
    def head_type(self) -> str:
        return self.spec.head_type

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def to_dtype(self, dtype: Any) -> CulturalModel:
        """Store and run the whole model (base, adapter, head, added rows) in ``dtype``
        (``"auto"``, ``"bfloat16"``, ``"float16"``, ``"float32"`` or a ``torch.dtype``; see
        :mod:`cultura.adapt.precision`); returns ``self``. Going down to 16 bits rounds every
        weight; coming back up does not restore what was rounded."""
        from cultura.adapt.precision import resolve_dtype

        resolved = resolve_dtype(dtype)
        if any(p.is_floating_point() and p.dtype != resolved for p in self.model.parameters()):
            self.model.to(resolved)
        self.dtype = resolved
        return self

    def __repr__(self) -> str:
        return (
            f"CulturalModel(culture={self.culture!r}, task={self.spec.task!r}, "
            f"head={self.head_type!r}, base={self.base.id!r}, peft={self.spec.peft.method!r}, "
            f"added_tokens={len(self.added.tokens)})"
        )

    def manifest(self) -> Manifest:
        """The ``cultura.json`` manifest describing this model (``files`` as last saved/loaded)."""
        tokenizer = {
            "normalizers": artifact.normalizer_records(self.profile),
            **self.added.as_dict(),
            "extensions": {c.key: str(c.provenance) for c in self.profile.vocabulary},
            "split_patterns": list(self.split_patterns),
            "plugins": [str(p) for p in self.profile.plugins],
        }
        knowledge = self.knowledge.describe() if self.knowledge is not None else []
        settings = {
            "max_length": self.max_length,
            "row_training": self.row_training,
            "knowledge": {
                "enabled": self.knowledge is not None and self.knowledge.enabled,
                "top_k": self.knowledge.top_k if self.knowledge is not None else 0,
                "max_chars": self.knowledge.max_chars if self.knowledge is not None else 0,
                "min_score": self.knowledge.min_score if self.knowledge is not None else 0.0,
            },
        }
        return Manifest(
            culture=self.culture,
            task=self.spec.task,
            head_type=self.head_type,
            base_model=self.base,
            labels=tuple(self.labels),
            peft_method=self.spec.peft.method,
            tokenizer=tokenizer,
            knowledge=tuple(knowledge),
            bias=dict(self.bias_summary) if self.bias_summary is not None else None,
            license=self.license,
            files=dict(self._files),
            created_with=f"cultura {_version()}",
            settings=settings,
            training=dict(self.training_summary),
            start_from=dict(self.start_from.record) if self.start_from is not None else None,
            training_data=tuple(self.training_data),
            lineage=self.lineage,
        )

    # ------------------------------------------------------------------ encoding
    def inject(
        self, texts: Sequence[str], *, knowledge: bool | None = None, top_k: int | None = None
    ) -> Injected:
        """Normalize ``texts`` (once) and inject knowledge: what the model is fed, with the
        knowledge not yet cut to the token budget (:meth:`encode` does that)."""
        normalized = self.tokenizer.normalize(list(texts))
        if self.knowledge is None:
            return Injected(normalized, None, [[] for _ in normalized])
        return self.knowledge.inject(normalized, top_k=top_k, enabled=knowledge)

    def encode(
        self,
        texts: Sequence[str],
        *,
        knowledge: bool | None = None,
        top_k: int | None = None,
        return_tensors: str | None = "pt",
        stats: EncodingStats | None = None,
    ) -> Any:
        """Tokenize ``texts`` as the model sees them: normalized once, knowledge injected
        (a second segment for encoders, prompt context for causal LMs) within ``max_length``
        without cutting the text for it (:func:`~cultura.adapt.knowledge.encode_with_knowledge`),
        padded. ``stats`` (an :class:`~cultura.adapt.knowledge.EncodingStats`) adds up what
        was injected and cut."""
        normalized = self.tokenizer.normalize(list(texts))
        contexts, prompt = None, None
        if self.knowledge is not None and (self.knowledge.enabled if knowledge is None else knowledge):
            injected = self.knowledge.inject(normalized, top_k=top_k, enabled=True)
            if self.head_type == "causal-lm":
                contexts, prompt = injected.contexts, self.knowledge.prompt
            else:
                contexts = injected.pairs
        with self.tokenizer.normalized_input():
            return encode_with_knowledge(
                self.tokenizer,
                normalized,
                contexts,
                max_length=self.max_length,
                prompt=prompt,
                return_tensors=return_tensors,
                stats=stats,
            )

    def _encode_words(
        self,
        words: Sequence[Sequence[str]],
        *,
        knowledge: bool | None = None,
        top_k: int | None = None,
        normalized: bool = False,
        stats: EncodingStats | None = None,
    ) -> Any:
        """Word lists encoded for token classification (word ids kept); knowledge as a second
        segment within the budget, so every word the text alone keeps stays in."""
        flat = [w for ws in words for w in ws]
        if not normalized:
            flat = self.tokenizer.normalize(flat)
        it = iter(flat)
        batch = [[next(it) for _ in ws] for ws in words]
        pairs = None
        if self.knowledge is not None and (self.knowledge.enabled if knowledge is None else knowledge):
            injected = self.knowledge.inject([" ".join(ws) for ws in batch], top_k=top_k, enabled=True)
            pairs = injected.pairs
        with self.tokenizer.normalized_input():
            return encode_with_knowledge(
                self.tokenizer,
                batch,
                pairs,
                max_length=self.max_length,
                split_into_words=True,
                stats=stats,
            )

    def collate(
        self, examples: Sequence[Example], *, stats: EncodingStats | None = None
    ) -> dict[str, Any]:
        """A training/evaluation batch (tensors, with ``labels``) from examples; ``stats``
        adds up what was injected and cut."""
        import torch

        if self.head_type == "masked-lm":
            from cultura.adapt.lm import collate_masked

            return collate_masked(self, examples, stats=stats)
        if self.head_type == "token-cls":
            enc = self._encode_words([e.tokens or () for e in examples], stats=stats)
            labels = []
            for i, example in enumerate(examples):
                row, previous = [], None
                seq_ids = enc.sequence_ids(i)
                for word, seq in zip(enc.word_ids(i), seq_ids, strict=True):
                    if word is None or seq != 0 or word == previous or example.tags is None:
                        row.append(-100)
                    else:
                        row.append(example.tags[word])
                    previous = word if seq == 0 else previous
                labels.append(row)
            batch = dict(enc)
            batch["labels"] = torch.tensor(labels)
            return batch
        enc = self.encode([e.text or "" for e in examples], stats=stats)
        batch = dict(enc)
        if self.head_type == "seq-cls":
            batch["labels"] = torch.tensor([e.label if e.label is not None else -100 for e in examples])
        else:
            labels = enc["input_ids"].clone()
            labels[enc["attention_mask"] == 0] = -100
            batch["labels"] = labels
        return batch

    def examples(
        self,
        data: Any,
        *,
        require_labels: bool = True,
        text_field: str | None = None,
        label_field: str | None = None,
        label_map: Mapping[Any, str] | None = None,
    ) -> list[Example]:
        """Validated examples for this model's head from a file, a folder of ``<label>.txt``
        files, records or a Dataset (:func:`~cultura.adapt.data.load_examples`); labels match
        the head's after the culture's normalizers. A list of examples is returned as is."""
        if isinstance(data, list) and data and isinstance(data[0], Example):
            return data
        return load_examples(
            data,
            self.head_type,
            self.labels,
            require_labels=require_labels,
            text_field=text_field,
            label_field=label_field,
            label_map=label_map,
            normalize=self.profile.normalize,
        )

    # ------------------------------------------------------------------ training
    def train(
        self,
        train: Any,
        eval: Any = None,
        *,
        epochs: int | None = None,
        lr: float = DEFAULT_LR,
        batch_size: int = DEFAULT_BATCH_SIZE,
        warmup_ratio: float = 0.1,
        grad_accum: int = 1,
        early_stopping_patience: int | None = None,
        counterfactual_augmentation: bool = False,
        knowledge_augmentation: bool = False,
        seed: int = 0,
        progress: bool | None = None,
        weight_decay: float = 0.01,
        max_grad_norm: float = 1.0,
        text_field: str | None = None,
        label_field: str | None = None,
        label_map: Mapping[Any, str] | None = None,
        embedding_lr: float | None = DEFAULT_EMBEDDING_LR,
        adversarial: str | None = None,
        adversarial_epsilon: float | None = None,
        pgd_steps: int | None = None,
        perturbation_augmentation: bool | Sequence[str] = False,
    ) -> TrainingHistory:
        """Train the adapter (AdamW, linear warmup/decay, gradient accumulation, early stopping
        on the eval metric with the best weights restored). Runs unchanged under
        ``accelerate launch``. See :func:`cultura.adapt.train.train` (``epochs=None``: by the
        data's size; ``embedding_lr``: the added vocabulary rows' learning rate;
        ``adversarial`` / ``adversarial_epsilon`` / ``pgd_steps`` / ``perturbation_augmentation``:
        adversarial training and augmentation with the culture's perturbations, see
        docs/adversarial.md).

        One line per epoch, how training ended and which epoch's weights are kept go to the
        ``cultura.adapt.train`` logger (INFO; ``logging.basicConfig(level=logging.INFO)`` or
        :func:`cultura.adapt.train.log_to_stderr` shows them), with a WARNING when the model
        predicts a single label for every eval row. ``progress``: the progress bar on stderr
        when it is a terminal (``None``), always (``True``) or never (``False``).
        ``text_field`` / ``label_field`` / ``label_map``: how ``train`` and ``eval`` are read
        (:meth:`examples`); both are read and checked in full before the first step."""
        from cultura.adapt.train import train as run

        fields = {"text_field": text_field, "label_field": label_field, "label_map": label_map}
        train = self.examples(train, **fields)
        if eval is not None:
            eval = self.examples(eval, **fields)
        return run(
            self,
            train,
            eval,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            warmup_ratio=warmup_ratio,
            grad_accum=grad_accum,
            early_stopping_patience=early_stopping_patience,
            counterfactual_augmentation=counterfactual_augmentation,
            knowledge_augmentation=knowledge_augmentation,
            seed=seed,
            progress=progress,
            weight_decay=weight_decay,
            max_grad_norm=max_grad_norm,
            embedding_lr=embedding_lr,
            adversarial=adversarial,
            adversarial_epsilon=adversarial_epsilon,
            pgd_steps=pgd_steps,
            perturbation_augmentation=perturbation_augmentation,
        )

    # ------------------------------------------------------------------ inference
    def _batches(self, items: Sequence[Any], batch_size: int) -> Any:
        for start in range(0, len(items), batch_size):
            yield items[start : start + batch_size]

    def _forward(self, batch: Mapping[str, Any]) -> Any:
        import torch

        device = self.device
        inputs = {k: v.to(device) for k, v in batch.items() if hasattr(v, "to")}
        with torch.no_grad():
            return self.model(**inputs)

    def logits(
        self, texts: Sequence[str], *, knowledge: bool | None = None, top_k: int | None = None
    ) -> Any:
        """Raw logits for ``texts`` (a CPU tensor), in eval mode."""
        self.model.eval()
        return self._forward(self.encode(list(texts), knowledge=knowledge, top_k=top_k)).logits.cpu()

    def predict_proba(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        knowledge: bool | None = None,
        top_k: int | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Class probabilities ``[n, num_labels]`` and the label names (``seq-cls`` only)."""
        import numpy as np
        import torch

        if self.head_type != "seq-cls":
            raise CulturaError(
                f"predict_proba needs a seq-cls head; task {self.spec.task!r} is {self.head_type}"
            )
        texts = _as_texts(texts)
        self.model.eval()
        rows = []
        for chunk in self._batches(texts, batch_size):
            out = self._forward(self.encode(chunk, knowledge=knowledge, top_k=top_k))
            rows.append(torch.softmax(out.logits.float(), dim=-1).cpu().numpy())
        probs = np.concatenate(rows, axis=0) if rows else np.zeros((0, len(self.labels)))
        return probs, list(self.labels)

    def predict(
        self,
        texts: Sequence[str] | Sequence[Sequence[str]] | str,
        top_k: int = 1,
        *,
        batch_size: int = 32,
        knowledge: bool | None = None,
        knowledge_top_k: int | None = None,
        max_new_tokens: int = 32,
        zero_shot: bool = False,
        task: str | None = None,
        shots: Any = (),
    ) -> list[dict[str, Any]]:
        """Predictions with localized labels, one dict per input.

        ``zero_shot=True`` classifies for the culture's ``task`` (default: this model's own
        seq-cls task) without a trained classifier head, in the seq-cls format: a causal LM
        scores the task's verbalizers by log-likelihood after a prompt with ``shots`` and the
        knowledge retrieved (``knowledge``, ``knowledge_top_k``), an encoder compares the text
        with the label names (:class:`cultura.adapt.prompting.ZeroShotClassifier`).

        * ``seq-cls``: ``{"text", "label", "score", "top": [{"label", "score"}, ...]}``
          (``top`` holds the ``top_k`` best labels);
        * ``token-cls``: ``{"text", "words": [{"word", "label", "score", "start", "end"}],
          "entities": [{"type", "start", "end", "text", "score"}]}`` — raw text is split into
          words (one per CJK character, else runs of letters/digits and single punctuation
          marks); a list of words is taken as given (and ``text`` joins them with spaces);
          offsets refer to ``text``, the normalized text. ``entities`` are the BIO spans of the
          word tags (as :func:`cultura.adapt.metrics.bio_entities` reads them; ``score``: the
          mean of their words'), present when the head's labels are BIO tags;
        * ``causal-lm``: ``{"text", "generated", "score"}`` (greedy continuation and its mean
          token log-probability);
        * ``masked-lm``: ``{"text", "filled", "masks": [{"position", "top": [{"token",
          "score", "token_id"}]}]}`` for each mask token of the text (its ``top_k`` best
          tokens; :func:`cultura.adapt.lm.fill_mask`).
        """
        if isinstance(texts, str):
            texts = [texts]
        if zero_shot:
            from cultura.adapt.prompting import DEFAULT_K, ZeroShotClassifier

            k = DEFAULT_K if knowledge_top_k is None else knowledge_top_k
            classifier = ZeroShotClassifier(self, task, shots=shots, knowledge=knowledge is not False, k=k)
            return classifier.predict(_as_texts(texts), top_k, batch_size=batch_size)
        if self.head_type == "masked-lm":
            from cultura.adapt.lm import fill_mask

            return fill_mask(self, _as_texts(texts), top_k, batch_size=batch_size,
                             knowledge=knowledge)
        if self.head_type == "seq-cls":
            return self._predict_seq(_as_texts(texts), top_k, batch_size, knowledge, knowledge_top_k)
        if self.head_type == "token-cls":
            return self._predict_tokens(list(texts), batch_size, knowledge, knowledge_top_k)
        return self._generate(_as_texts(texts), max_new_tokens, knowledge, knowledge_top_k)

    def explain(
        self,
        texts: Sequence[str] | str,
        *,
        method: str = "ig",
        target: str | int | None = None,
        steps: int | str = "auto",
        token: int | str | None = None,
        cross_check: bool = True,
        knowledge: bool | None = None,
        batch_size: int = 16,
    ) -> list[Any]:
        """Word and piece attributions of this model's decisions, one
        :class:`~cultura.explain.Explanation` per text: integrated gradients on the input
        embeddings and occlusion, mapped back to the original text through the normalizers
        and added vocabulary (``seq-cls`` and ``token-cls`` heads; see
        :func:`cultura.explain.explain` and docs/explain.md)."""
        from cultura.explain.attribution import explain

        return explain(self, texts, method=method, target=target, steps=steps, token=token,
                       cross_check=cross_check, knowledge=knowledge, batch_size=batch_size)

    def _predict_seq(
        self, texts: list[str], top_k: int, batch_size: int, knowledge: bool | None, k: int | None
    ) -> list[dict[str, Any]]:
        probs, labels = self.predict_proba(texts, batch_size=batch_size, knowledge=knowledge, top_k=k)
        out = []
        for text, row in zip(texts, probs, strict=True):
            order = sorted(range(len(labels)), key=lambda i: (-row[i], i))[: max(1, top_k)]
            top = [{"label": labels[i], "score": float(row[i]), "label_id": i} for i in order]
            out.append({"text": text, "label": top[0]["label"], "score": top[0]["score"], "top": top})
        return out

    def _predict_tokens(
        self, items: list[Any], batch_size: int, knowledge: bool | None, k: int | None
    ) -> list[dict[str, Any]]:
        import torch

        from cultura.adapt.metrics import is_bio

        self.model.eval()
        bio = is_bio(self.labels)
        results: list[dict[str, Any]] = []
        for chunk in self._batches(items, batch_size):
            words, spans, shown = words_for_tagging(self.tokenizer, chunk)
            enc = self._encode_words(words, knowledge=knowledge, top_k=k, normalized=True)
            probs = torch.softmax(self._forward(enc).logits.float(), dim=-1).cpu()
            for i, (ws, sp, text) in enumerate(zip(words, spans, shown, strict=True)):
                results.append(tag_row(
                    self.labels, bio, enc.word_ids(i), enc.sequence_ids(i), probs[i], ws, sp, text
                ))
        return results

    def _generate(
        self, texts: list[str], max_new_tokens: int, knowledge: bool | None, k: int | None
    ) -> list[dict[str, Any]]:
        import torch

        self.model.eval()
        out = []
        eos = self.tokenizer.eos_token_id
        config = _base_model(self.model).config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        for text in texts:
            enc = self.encode([text], knowledge=knowledge, top_k=k)
            ids = enc["input_ids"].to(self.device)
            mask = enc["attention_mask"].to(self.device)
            new: list[int] = []
            logps: list[float] = []
            # greedy decoding by plain forward passes: with transformers 5 ``generate`` passes
            # its own cache and PEFT's prefix (past_key_values) would be silently dropped
            with torch.no_grad():
                for _ in range(max_new_tokens):
                    if limit is not None and ids.shape[1] >= limit:
                        break
                    logits = self.model(input_ids=ids, attention_mask=mask).logits[0, -1]
                    logp = torch.log_softmax(logits.float(), dim=-1)
                    token = int(logp.argmax())
                    if eos is not None and token == eos:
                        break
                    new.append(token)
                    logps.append(float(logp[token]))
                    ids = torch.cat([ids, ids.new_tensor([[token]])], dim=1)
                    mask = torch.cat([mask, mask.new_ones((1, 1))], dim=1)
            out.append(
                {
                    "text": text,
                    "generated": self.tokenizer.decode(new, skip_special_tokens=True),
                    "score": sum(logps) / len(logps) if logps else 0.0,
                }
            )
        return out

    def evaluate(
        self,
        data: Any,
        *,
        batch_size: int = 32,
        knowledge: bool | None = None,
        text_field: str | None = None,
        label_field: str | None = None,
        label_map: Mapping[Any, str] | None = None,
    ) -> dict[str, Any]:
        """Metrics on labelled data (read as :meth:`examples` reads it): ``loss`` plus
        ``accuracy``, ``macro_f1``, ``n`` and ``per_label_f1`` for classifier heads (token-cls:
        over each word's first piece, with ``n_tokens``), or ``perplexity`` for LM heads
        (``masked-lm``: over the masked tokens, masked the same way at every call).

        A token-cls head with BIO tags (``O``, ``B-X``, ``I-X``) also gets entity-level
        ``entity_precision``, ``entity_recall``, ``entity_f1`` (exact span match,
        micro-averaged), ``entity_support`` and ``per_entity_type``
        (:func:`cultura.adapt.metrics.entity_metrics`).

        Every head also gets ``encoding``, how the inputs were encoded
        (:meth:`~cultura.adapt.knowledge.EncodingStats.as_dict`): the share of rows with
        knowledge injected, knowledge tokens per such row, rows and text tokens truncated."""
        import math

        from cultura.adapt.metrics import classification_metrics, entity_metrics, is_bio

        examples = self.examples(
            data, text_field=text_field, label_field=label_field, label_map=label_map
        )
        was_training = self.model.training
        self.model.eval()
        total_loss, total_weight = 0.0, 0
        gold: list[int] = []
        pred: list[int] = []
        sequences: list[tuple[list[int], list[int]]] = []  # token-cls: (gold, predicted) tags
        stats = EncodingStats()
        try:
            for chunk in self._batches(examples, batch_size):
                batch = self._collate_with(chunk, knowledge, stats)
                out = self._forward(batch)
                labels = batch["labels"].to(out.logits.device)
                if self.head_type == "seq-cls":
                    weight = int((labels != -100).sum())
                    gold += labels.tolist()
                    pred += out.logits.argmax(-1).tolist()
                elif self.head_type == "token-cls":
                    mask = labels != -100
                    weight = int(mask.sum())
                    argmax = out.logits.argmax(-1)
                    gold += labels[mask].tolist()
                    pred += argmax[mask].tolist()
                    sequences += [
                        (row[keep].tolist(), guess[keep].tolist())
                        for row, keep, guess in zip(labels, mask, argmax, strict=True)
                    ]
                elif self.head_type == "masked-lm":
                    weight = int((labels != -100).sum())
                else:
                    weight = int((labels[:, 1:] != -100).sum())
                total_loss += float(out.loss) * weight
                total_weight += weight
        finally:
            self.model.train(was_training)
        loss = total_loss / total_weight if total_weight else 0.0
        if self.head_type in LM_HEAD_TYPES:
            return {
                "loss": loss,
                "perplexity": math.exp(min(loss, 50.0)),
                "n": len(examples),
                "encoding": stats.as_dict(),
            }
        metrics = classification_metrics(gold, pred, self.labels)
        metrics["loss"] = loss
        if self.head_type == "token-cls":
            metrics["n_tokens"] = metrics["n"]
            metrics["n"] = len(examples)
            if is_bio(self.labels):
                names = self.labels
                metrics.update(entity_metrics(
                    [[names[i] for i in g] for g, _ in sequences],
                    [[names[i] for i in p] for _, p in sequences],
                ))
        metrics["encoding"] = stats.as_dict()
        return metrics

    def _collate_with(
        self, examples: Sequence[Example], knowledge: bool | None, stats: EncodingStats
    ) -> dict[str, Any]:
        if knowledge is None or self.knowledge is None:
            return self.collate(examples, stats=stats)
        saved = self.knowledge.enabled
        self.knowledge.enabled = knowledge
        try:
            return self.collate(examples, stats=stats)
        finally:
            self.knowledge.enabled = saved

    # ------------------------------------------------------------------ saving
    def added_rows(self) -> dict[str, Any]:
        """The current (trained) embedding rows of the added tokens, keyed as saved."""
        import torch

        if not self.added.tokens:
            return {}
        base = _base_model(self.model)
        ids = torch.tensor(self.added.token_ids, dtype=torch.long)
        rows = {
            "embedding": _effective_weight(base.get_input_embeddings())[ids.to(self.device)],
            "token_ids": ids,
        }
        if not self.added.tied:
            out = base.get_output_embeddings()
            rows["lm_head"] = _effective_weight(out)[ids.to(self.device)]
            bias = getattr(_unwrap_layer(out), "bias", None)
            if bias is not None and bias.shape[0] == self.added.vocab_size_after:
                rows["lm_head_bias"] = bias[ids.to(self.device)]
        return {  # saved in float32 whatever the model's dtype (token ids stay int64)
            k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype)
            .contiguous().clone()
            for k, v in rows.items()
        }

    def save_pretrained(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the adapter artifact (design.md §4) to ``directory``, atomically.

        Files: ``adapter_config.json`` + ``adapter_model.safetensors`` (PEFT, head included),
        tokenizer files, ``added_tokens.safetensors`` (when tokens were added),
        ``cultura.json`` (manifest with sha256 of every file) and ``README.md`` (model card).
        Under ``accelerate launch`` only the main process writes; the others wait.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        dist = _distributed()
        if dist is not None and dist.get_rank() != 0:
            dist.barrier()
            return directory
        try:
            with artifact.atomic_directory(directory, overwrite=overwrite) as tmp:
                peft_config = self.model.peft_config[self.model.active_adapter]
                saved_id = peft_config.base_model_name_or_path
                peft_config.base_model_name_or_path = self.base.id
                try:
                    self.model.save_pretrained(str(tmp), save_embedding_layers=False)
                finally:
                    peft_config.base_model_name_or_path = saved_id
                _float32_weights(tmp / artifact.PEFT_WEIGHTS)  # portable, whatever self.dtype
                (tmp / artifact.CARD).unlink(missing_ok=True)
                self.tokenizer.save_pretrained(str(tmp))
                if self.start_from is not None:
                    self.start_from.save(tmp)
                if self.added.tokens:
                    save_file(
                        self.added_rows(),
                        str(tmp / artifact.ADDED_TOKENS),
                        metadata={
                            "format": ADDED_TOKENS_FORMAT,
                            "tokens": json.dumps(list(self.added.tokens), ensure_ascii=False),
                        },
                    )
                self._files = artifact.compute_hashes(tmp)
                manifest = self.manifest()
                text = manifest.to_json()
                # save only what loading accepts: no remote code, allowed file types, bounds
                artifact.refuse_remote_code(tmp, str(directory))
                artifact.Manifest.from_dict(json.loads(text), where=str(directory / artifact.MANIFEST))
                (tmp / artifact.MANIFEST).write_text(text, encoding="utf-8")
                card = artifact.render_card(manifest, bias_markdown=self.bias_markdown)
                (tmp / artifact.CARD).write_text(card, encoding="utf-8")
        finally:
            if dist is not None:
                dist.barrier()
        return directory


# ---------------------------------------------------------------------- helpers
def _as_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        raise CulturaError(
            f"expected a list of strings; item {bad[0]} is a {type(out[bad[0]]).__name__}"
        )
    return out


def words_for_tagging(
    tokenizer: Any, items: Sequence[str | Sequence[str]]
) -> tuple[list[list[str]], list[list[tuple[int, int]]], list[str]]:
    """Token classification inputs: each item normalized by ``tokenizer`` (one batch for the
    raw texts, one for the word lists) and split into words, with each word's character span
    in the text shown for it. Returns ``(words, spans, texts)``, one entry per item: raw text
    is split into words (one per CJK character, else runs of letters/digits and single
    punctuation marks); a list of words is taken as given and shown joined with spaces."""
    raw = [x for x in items if isinstance(x, str)]
    normalized = iter(tokenizer.normalize(raw) if raw else [])
    flat_words = [w for x in items if not isinstance(x, str) for w in x]
    normalized_words = iter(tokenizer.normalize(flat_words) if flat_words else [])
    words: list[list[str]] = []
    spans: list[list[tuple[int, int]]] = []
    shown: list[str] = []
    for item in items:
        if isinstance(item, str):
            text = next(normalized)
            matches = list(_WORD.finditer(text))
            words.append([m.group() for m in matches])
            spans.append([(m.start(), m.end()) for m in matches])
            shown.append(text)
        else:
            ws = [next(normalized_words) for _ in item]
            words.append(ws)
            pos, sp = 0, []
            for w in ws:
                sp.append((pos, pos + len(w)))
                pos += len(w) + 1
            spans.append(sp)
            shown.append(" ".join(ws))
    return words, spans, shown


def tag_row(
    labels: Sequence[str],
    bio: bool,
    word_ids: Sequence[int | None],
    sequence_ids: Sequence[int | None],
    probs: Any,
    words: Sequence[str],
    spans: Sequence[tuple[int, int]],
    text: str,
) -> dict[str, Any]:
    """One token-classification result (the ``token-cls`` format of
    :meth:`CulturalModel.predict`): each word tagged by its first piece's label (``probs``:
    ``[positions, labels]`` for the row, aligned with ``word_ids``/``sequence_ids``), and the
    BIO entities when ``bio``."""
    tagged, seen = [], set()
    for pos, (word, seq) in enumerate(zip(word_ids, sequence_ids, strict=True)):
        if word is None or seq != 0 or word in seen:
            continue
        seen.add(word)
        p = probs[pos]
        j = int(p.argmax())
        tagged.append({
            "word": words[word],
            "label": labels[j],
            "score": float(p[j]),
            "start": spans[word][0],
            "end": spans[word][1],
        })
    result: dict[str, Any] = {"text": text, "words": tagged}
    if bio:
        result["entities"] = _entity_spans(text, tagged)
    return result


def _entity_spans(text: str, words: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The BIO entities over tagged ``words`` (in order): type, character offsets into
    ``text``, the covered text and the mean score of the entity's words."""
    from cultura.adapt.metrics import bio_entities

    spans = []
    for kind, first, end in bio_entities([w["label"] for w in words]):
        covered = words[first:end]
        start, stop = covered[0]["start"], covered[-1]["end"]
        spans.append({
            "type": kind,
            "start": start,
            "end": stop,
            "text": text[start:stop],
            "score": sum(w["score"] for w in covered) / len(covered),
        })
    return spans


def _float_dtype(model: Any) -> Any:
    """The dtype of ``model``'s first floating-point parameter (float32 when it has none)."""
    import torch

    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _float32_weights(path: Path) -> None:
    """Rewrite the safetensors file ``path`` with its 16-bit floating-point tensors in
    float32 (metadata kept; a file already all float32 is left as is)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    low = (torch.float16, torch.bfloat16)
    if not any(t.dtype in low for t in tensors.values()):
        return
    save_file({k: t.float() if t.dtype in low else t for k, t in tensors.items()}, str(path),
              metadata=metadata)


def _distributed() -> Any:
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch always ships it
        return None
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def _base_model(peft_model: Any) -> Any:
    get = getattr(peft_model, "get_base_model", None)
    return get() if get is not None else peft_model


def _unwrap_layer(module: Any) -> Any:
    adapter = getattr(module, "token_adapter", None)
    return adapter.base_layer if adapter is not None else module


def _effective_weight(module: Any) -> Any:
    """The weight a (possibly PEFT trainable-tokens wrapped) embedding/LM head computes with."""
    adapter = getattr(module, "token_adapter", None)
    if adapter is not None:
        return adapter.get_merged_weights(adapter.active_adapters)
    return module.weight
