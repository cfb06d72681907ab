"""``cultura.zero_shot``: a zero-/few-shot classifier on a plain base model (docs/zero-shot.md).

It builds the base as a :class:`~cultura.adapt.cultural_model.CulturalModel` (with
:func:`~cultura.adapt.build.adapt`) and wraps it in a
:class:`~cultura.adapt.prompting.ZeroShotClassifier`; it lives apart from
:mod:`cultura.adapt.prompting` because the model module imports that one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cultura.adapt.prompting import DEFAULT_K, ShotsArg, ZeroShotClassifier
from cultura.core.types import PromptTemplate

if TYPE_CHECKING:
    from cultura.core.plugins import PluginManager

__all__ = ["zero_shot"]


def zero_shot(
    base: Any,
    culture: str,
    task: str,
    *,
    method: str | None = None,
    shots: ShotsArg = (),
    knowledge: bool = True,
    k: int = DEFAULT_K,
    template: PromptTemplate | None = None,
    normalization: str = "mean",
    tokenizer: Any = None,
    revision: str | None = None,
    dtype: Any = "auto",
    max_length: int = 128,
    manager: PluginManager | None = None,
) -> ZeroShotClassifier:
    """A zero-/few-shot classifier for ``culture``'s ``task`` on a plain ``base`` model.

    The base (a Hub id, path, embedded alias, or a loaded model with ``tokenizer=``) is loaded
    as the built-in language-model head (``causal-lm`` on decoders: ``loglik`` scoring;
    ``masked-lm`` on encoders: ``similarity``) with the culture's normalizers on its tokenizer
    and no added vocabulary (new rows would be untrained). The LoRA wrapped around it is
    untrained, so it computes exactly what the base computes. ``max_length``: truncation of
    the texts and label names ``similarity`` embeds (prompts use the model's position limit).
    Other arguments: :class:`ZeroShotClassifier`.
    """
    from cultura.adapt import lm
    from cultura.adapt.build import adapt

    spec = lm.builtin_spec(base, revision)
    model = adapt(base, culture, head=spec, knowledge=False, extend_vocab=False,
                  tokenizer=tokenizer, revision=revision, dtype=dtype, max_length=max_length,
                  manager=manager)
    return ZeroShotClassifier(model, task, method=method, shots=shots, knowledge=knowledge, k=k,
                              template=template, normalization=normalization)
