"""Token classification served in mixed batches: each row's words tagged by its culture's head.

Rows are routed and grouped by culture as for ``seq-cls``; each culture's rows are normalized
once and split into words, encoded word by word (its knowledge as a second segment, its added
tokens mapped into the shared table), and one forward pass runs every row through its
culture's LoRA weights and classifier (:meth:`MultiCultureServer._run_rows
<cultura.serve.server.MultiCultureServer>`). Each row is then read back exactly as
:meth:`CulturalModel.predict <cultura.adapt.model.CulturalModel.predict>` reads a token-cls
head's output (:func:`~cultura.adapt.cultural_model.words_for_tagging` and
:func:`~cultura.adapt.cultural_model.tag_row`, the same code): ``{"text", "words", "entities"}``
with labels in the culture's language and character offsets into the (normalized) text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cultura.serve.adapters import ServedAdapter
    from cultura.serve.server import MultiCultureServer

__all__ = ["predict_tokens"]


def predict_tokens(
    server: MultiCultureServer, texts: list[str], keys: list[str], batch_size: int | None = None
) -> list[dict[str, Any]]:
    """Tagged words (and BIO entities) per row of ``texts``, whose rows go to the served
    cultures ``keys``; ``{"culture", "text", "words", "entities"}`` in input order."""
    import torch

    from cultura.adapt.cultural_model import tag_row, words_for_tagging
    from cultura.adapt.metrics import is_bio

    prepared: dict[int, tuple[Any, int, list[str], list[tuple[int, int]], str]] = {}

    def encode(adapter: ServedAdapter, rows: list[int]) -> dict[str, Any]:
        words, spans, shown = words_for_tagging(adapter.encoder.tokenizer, [texts[i] for i in rows])
        enc = adapter.encoder._encode_words(words, normalized=True)
        for j, i in enumerate(rows):
            prepared[i] = (enc, j, words[j], spans[j], shown[j])
        return adapter.map_ids(enc)

    logits = server._run_rows(keys, encode, batch_size)
    results = []
    for i, (key, row) in enumerate(zip(keys, logits, strict=True)):
        adapter = server.adapter(key)
        enc, j, words, spans, text = prepared[i]
        word_ids, sequence_ids = enc.word_ids(j), enc.sequence_ids(j)
        probs = torch.softmax(row.float(), dim=-1)
        if getattr(adapter.encoder.tokenizer, "padding_side", "right") == "left":
            probs = probs[probs.shape[0] - len(word_ids) :]  # the batch padded more on the left
        labels = adapter.labels
        results.append({
            "culture": key,
            **tag_row(labels, is_bio(labels), word_ids, sequence_ids, probs, words, spans, text),
        })
    return results
