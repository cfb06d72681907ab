"""Adversarial training in embedding space and perturbation augmentation, for
:func:`cultura.adapt.train.train` (``adversarial="fgm" | "pgd"``,
``perturbation_augmentation=True``).

**FGM** (fast gradient method, Miyato et al. 2017, "Adversarial Training Methods for
Semi-Supervised Text Classification"; the form Chinese NLP models are commonly trained with):
each training step runs the batch once clean, takes the gradient ``g`` of the loss with
respect to the *output* of the input (word) embeddings, and runs it again with
``r = epsilon * g / ||g||`` added to that output (``||g||`` over each example's real tokens,
padding left alone). **PGD** (projected gradient descent, Madry et al. 2018) takes
``steps`` such ascent steps of size ``2.5 * epsilon / steps`` instead, each projected back onto
the ball ``||r|| <= epsilon`` of each example, and trains on the last one.

The objective is the mean of the clean and the adversarial loss, ``(L(x) + L(x + r)) / 2``: the
gradients of both passes are accumulated at half weight, so a step has the scale of a plain one
(the learning rate and gradient clipping keep their meaning), and every pass of a step replays
the clean pass's random state (its dropout masks): with ``epsilon=0`` training is exactly plain
training, bit for bit.

The perturbation is added by a forward hook on the model's input embeddings module, outside
the embedding weights: the weights (the base's rows, the added vocabulary rows, a LoRA of the
embeddings) are never written, and the hook adds nothing outside :meth:`EmbeddingAdversary.step`
(evaluation between epochs sees clean embeddings). In mixed precision (a bfloat16 or float16
model) the perturbation is kept in float32 and cast to the embeddings' dtype where it is added.

**Perturbation augmentation** (:func:`perturbation_augment`) adds to the training data a copy
of each example under each of the culture's perturbations (``cultura_perturbations``, the ones
``cultura robustness`` measures), seeded, with the example's label, where the perturbation
changes what the model sees (the text after the adapter's normalizers).

torch is imported inside the functions only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from cultura.core.errors import CulturaError
from cultura.core.perturb import perturb

if TYPE_CHECKING:
    import torch

    from cultura.adapt.cultural_model import CulturalModel
    from cultura.adapt.data import Example

__all__ = [
    "ADVERSARIAL_METHODS",
    "DEFAULT_EPSILON",
    "DEFAULT_PGD_STEPS",
    "FGM",
    "PGD",
    "EmbeddingAdversary",
    "make_adversary",
    "perturbation_augment",
]

ADVERSARIAL_METHODS: tuple[str, ...] = ("fgm", "pgd")
#: the default radius of the perturbation (L2 norm over one example's token embeddings); a
#: word embedding of all-MiniLM-L6-v2 has a norm of about 1.1
DEFAULT_EPSILON = 1.0
DEFAULT_PGD_STEPS = 3


class EmbeddingAdversary(ABC):
    """Adversarial perturbation of the input embeddings' output (see the module docstring).

    ``attach(model)`` registers the hook (before ``accelerator.prepare``), ``step(model, batch,
    accelerator)`` replaces a training step's forward and backward, ``detach()`` removes the
    hook. ``delta`` holds the perturbation of the last step (detached, float32; zeros on the
    padding), for inspection.
    """

    method: ClassVar[str] = ""

    def __init__(self, epsilon: float = DEFAULT_EPSILON) -> None:
        self.epsilon = _check_epsilon(epsilon)
        self.delta: torch.Tensor | None = None
        self._current: torch.Tensor | None = None
        self._handle: Any = None
        self._width = 0

    # ------------------------------------------------------------------ the hook
    def attach(self, model: Any) -> None:
        """Hook ``model.get_input_embeddings()`` (once; call :meth:`detach` when done)."""
        if self._handle is not None:
            raise CulturaError(f"this {type(self).__name__} is attached already; detach() it first")
        module = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
        if module is None:
            raise CulturaError(
                f"adversarial={self.method!r} perturbs the input embeddings, and "
                f"{type(model).__name__} exposes none (get_input_embeddings()); train it without "
                "adversarial"
            )
        self._width = int(module.weight.shape[-1])
        self._handle = module.register_forward_hook(self._hook)

    def detach(self) -> None:
        """Remove the hook (idempotent)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, _module: Any, _args: Any, output: Any) -> Any:
        delta = self._current
        if delta is None:
            return None
        if delta.shape != output.shape:
            raise CulturaError(
                f"the input embeddings' output has shape {tuple(output.shape)}, the "
                f"perturbation {tuple(delta.shape)}: a forward pass ran inside a training step "
                "on other inputs"
            )
        return output + delta.to(output.dtype)

    @contextmanager
    def perturbing(self, delta: torch.Tensor) -> Iterator[None]:
        """Forward passes inside the block get ``delta`` added to the input embeddings' output
        (shape ``(batch, tokens, hidden)``); the model must be attached."""
        if self._handle is None:
            raise CulturaError("attach(model) the adversary before perturbing its embeddings")
        self._current = delta
        try:
            yield
        finally:
            self._current = None

    # ------------------------------------------------------------------ one training step
    def step(self, model: Any, batch: dict[str, Any], accelerator: Any) -> Any:
        """Forward and backward of one batch, clean and adversarial; returns the clean output.

        The gradients of both passes (half weight each) are accumulated in the parameters'
        ``.grad`` through ``accelerator.backward``; the optimizer step is the caller's. Under
        several processes only the last backward synchronizes gradients.
        """
        import torch

        mask = _token_mask(batch)
        rng = _RandomState.save(_device_of(model))
        zero = torch.zeros(*mask.shape, self._width, device=mask.device, requires_grad=True)
        with accelerator.no_sync(model), self.perturbing(zero):
            out = model(**batch)
            accelerator.backward(out.loss * 0.5)
        delta = self.attack(model, batch, accelerator, zero.grad, mask, rng)
        rng.restore()
        with self.perturbing(delta):
            adversarial = model(**batch)
        accelerator.backward(adversarial.loss * 0.5)
        self.delta = delta.detach()
        return out

    @abstractmethod
    def attack(self, model: Any, batch: dict[str, Any], accelerator: Any,
               grad: torch.Tensor | None, mask: torch.Tensor, rng: _RandomState) -> torch.Tensor:
        """The perturbation to train on, from the clean pass's gradient ``grad`` with respect
        to the embeddings' output (``mask``: 1 on the tokens to perturb)."""

    def settings(self) -> dict[str, Any]:
        """What training records (history, manifest)."""
        return {"method": self.method, "epsilon": self.epsilon}


class FGM(EmbeddingAdversary):
    """One normalized gradient step of length ``epsilon`` (Miyato et al. 2017)."""

    method = "fgm"

    def attack(self, model: Any, batch: dict[str, Any], accelerator: Any,
               grad: torch.Tensor | None, mask: torch.Tensor, rng: _RandomState) -> torch.Tensor:
        return self.epsilon * _normalized(grad, mask)


class PGD(EmbeddingAdversary):
    """``steps`` normalized gradient steps of size ``alpha`` (default ``2.5 * epsilon /
    steps``), each projected onto the L2 ball of radius ``epsilon`` of each example (Madry et
    al. 2018); the first step starts from the clean pass's gradient."""

    method = "pgd"

    def __init__(self, epsilon: float = DEFAULT_EPSILON, steps: int = DEFAULT_PGD_STEPS,
                 alpha: float | None = None) -> None:
        super().__init__(epsilon)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise CulturaError(f"pgd_steps must be a positive integer, got {steps!r}")
        self.steps = steps
        self.alpha = 2.5 * self.epsilon / steps if alpha is None else _check_epsilon(alpha, "alpha")

    def attack(self, model: Any, batch: dict[str, Any], accelerator: Any,
               grad: torch.Tensor | None, mask: torch.Tensor, rng: _RandomState) -> torch.Tensor:
        import torch

        delta = self.project(self.alpha * _normalized(grad, mask))
        for _ in range(self.steps - 1):
            delta = delta.detach().requires_grad_(True)
            rng.restore()
            with accelerator.no_sync(model), self.perturbing(delta):
                loss = model(**batch).loss
            (grad,) = torch.autograd.grad(loss, delta)
            delta = self.project(delta.detach() + self.alpha * _normalized(grad, mask))
        return delta.detach()

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """``delta`` scaled back onto the ball ``||delta|| <= epsilon`` of each example."""
        norms = _norms(delta)
        scale = (self.epsilon / norms.clamp_min(1e-12)).clamp(max=1.0)
        return delta * scale.view(-1, *([1] * (delta.ndim - 1)))

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "steps": self.steps, "alpha": self.alpha}


def make_adversary(method: str | None, epsilon: float | None = None,
                   steps: int | None = None) -> EmbeddingAdversary | None:
    """The adversary ``train(adversarial=method, adversarial_epsilon=epsilon,
    pgd_steps=steps)`` trains with (``None`` for ``method=None``); checks the values."""
    if method is None:
        if epsilon is not None or steps is not None:
            given = "adversarial_epsilon" if epsilon is not None else "pgd_steps"
            raise CulturaError(
                f"{given} is set but adversarial is not: pass adversarial='fgm' or 'pgd' "
                "(--adversarial on the command line), or leave it out"
            )
        return None
    key = method.strip().lower() if isinstance(method, str) else method
    if key not in ADVERSARIAL_METHODS:
        raise CulturaError(
            f"adversarial={method!r} is not a method; use one of {', '.join(ADVERSARIAL_METHODS)} "
            "(or None for plain training)"
        )
    eps = DEFAULT_EPSILON if epsilon is None else epsilon
    if key == "fgm":
        if steps is not None:
            raise CulturaError(
                "pgd_steps applies to adversarial='pgd'; FGM takes one step: leave it out"
            )
        return FGM(eps)
    return PGD(eps, DEFAULT_PGD_STEPS if steps is None else steps)


# ---------------------------------------------------------------------- helpers
def _check_epsilon(value: Any, name: str = "adversarial_epsilon") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise CulturaError(
            f"{name} must be a finite number >= 0 (the L2 radius of the perturbation of one "
            f"example's embeddings; default {DEFAULT_EPSILON}), got {value!r}"
        )
    return float(value)


def _device_of(model: Any) -> torch.device:
    return next(model.parameters()).device


def _token_mask(batch: dict[str, Any]) -> torch.Tensor:
    """1 on the tokens to perturb (the attention mask: padding is left alone), float32."""
    import torch

    mask = batch.get("attention_mask")
    if mask is None:
        ids = batch["input_ids"]
        return torch.ones(ids.shape, dtype=torch.float32, device=ids.device)
    return mask.to(torch.float32)


def _norms(x: torch.Tensor) -> torch.Tensor:
    """The L2 norm of each example (over every dimension but the first), float32."""
    return x.float().flatten(1).norm(dim=1)


def _normalized(grad: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
    """``grad / ||grad||`` per example, on the masked tokens only (zeros where the gradient
    is zero)."""
    import torch

    if grad is None:
        raise CulturaError(
            "the loss does not depend on the input embeddings' output, so there is no gradient "
            "to perturb along; adversarial training needs a model that reads its inputs through "
            "get_input_embeddings()"
        )
    g = grad.float() * mask.unsqueeze(-1)
    g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)  # a float16 scaler's overflow
    return g / _norms(g).clamp_min(1e-12).view(-1, *([1] * (g.ndim - 1)))


class _RandomState:
    """The CPU (and the model's CUDA device's) random state, to replay dropout masks."""

    def __init__(self, cpu: Any, cuda: Any, device: Any) -> None:
        self.cpu, self.cuda, self.device = cpu, cuda, device

    @classmethod
    def save(cls, device: Any) -> _RandomState:
        import torch

        cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        return cls(torch.get_rng_state(), cuda, device)

    def restore(self) -> None:
        import torch

        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)


# ---------------------------------------------------------------------- perturbation augmentation
def perturbation_augment(
    cm: CulturalModel, examples: list[Example], perturbations: bool | Sequence[str] = True,
    *, seed: int = 0,
) -> tuple[list[Example], dict[str, Any]]:
    """``examples`` followed by perturbed copies, and what was added.

    For each of the culture's perturbations (``perturbations=True``: every one its profile
    gives; or a sequence of their ids) and each example, the perturbed text (seeded by
    ``seed``, the perturbation's id and the text, as ``cultura robustness`` seeds it) is added
    with the example's label when the adapter's normalizers do not undo the change. The record
    (``{"seed", "perturbations": [{"id", "source", "copies"}], "added"}``) goes to the
    training history and the manifest.

    Raises :class:`~cultura.core.errors.CulturaError` for a token-cls head (a perturbation
    changes the words the tags belong to), a culture without perturbations or an unknown id;
    a perturbation that fails raises the plugin error naming it.
    """
    if cm.head_type == "token-cls":
        raise CulturaError(
            "perturbation augmentation rewrites running text; it is not supported for token-cls "
            "heads (the tags would no longer align with the words)"
        )
    found = [(c.value, c.value.provenance) for c in cm.profile.perturbations]
    on_offer = ", ".join(p.id for p, _ in found) or "none"
    if not found:
        raise CulturaError(
            f"perturbation augmentation needs perturbations for culture {cm.culture}; no "
            "installed plugin gives any (cultura plugins --hook perturbations lists those that "
            "do). Install the culture's plugin, or train without perturbation augmentation"
        )
    if perturbations is not True:
        if isinstance(perturbations, (str, bytes)) or not isinstance(perturbations, Sequence) \
                or not perturbations:
            raise CulturaError(
                "perturbation_augmentation must be True, False or a non-empty list of "
                f"perturbation ids (on offer for {cm.culture}: {on_offer}); got {perturbations!r}"
            )
        unknown = [i for i in perturbations if i not in {p.id for p, _ in found}]
        if unknown:
            raise CulturaError(
                f"no perturbation {', '.join(map(repr, unknown))} for culture {cm.culture}; on "
                f"offer: {on_offer} (cultura show {cm.culture} lists them)"
            )
        found = [(p, prov) for p, prov in found if p.id in perturbations]
    texts = [e.text or "" for e in examples]
    clean = cm.tokenizer.normalize(texts)
    added: list[Example] = []
    record = []
    for p, provenance in found:
        perturbed = perturb(p, texts, seed=seed)  # isolated and time-limited, as in robustness
        normalized = cm.tokenizer.normalize(perturbed)
        copies = [
            replace(e, text=text, where=f"{e.where} ({p.id})")
            for e, text, norm, before in zip(examples, perturbed, normalized, clean, strict=True)
            if norm != before
        ]
        added += copies
        record.append({"id": p.id, "source": str(provenance) if provenance else "given",
                       "copies": len(copies)})
    return list(examples) + added, {"seed": seed, "perturbations": record, "added": len(added)}
