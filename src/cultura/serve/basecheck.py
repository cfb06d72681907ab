"""Is an adapter's base the server's base? Checked without copying the base anywhere.

An adapter read from its directory records its base (``cultura.json``: architecture
fingerprint, vocabulary size and the digest of the base's embedding matrix,
:func:`~cultura.adapt.heads.embedding_digest`); the server computes the same digest once, when it
loads its base, and compares. That is the check ``load_pretrained`` makes.

An in-memory :class:`~cultura.adapt.model.CulturalModel` carries its own copy of the base. Its
parameters are compared with the server's on :class:`WeightSamples`: an evenly strided sample
of at most :data:`SAMPLE` values of every base parameter, taken once from the server's base
in float32 before it is cast to the served dtype. Each of the adapter's parameters is sampled
where it lies and only the sample (a few KB) is moved; the two are compared exactly, in the
lower of the two precisions (a base cast to bfloat16 holds the bfloat16 rounding of the same
float32 weights). A different checkpoint or any training of the base changes essentially every
weight, so the samples tell them apart, as the embedding digest does for directories.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SAMPLE", "WeightSamples", "sample"]

#: values sampled per parameter
SAMPLE = 4096


def sample(tensor: Any, n: int = SAMPLE) -> Any:
    """An evenly strided sample of at most ``n`` values of ``tensor`` (flattened), on the CPU."""
    flat = tensor.detach().reshape(-1)
    step = max(1, flat.numel() // n)
    return flat[::step][:n].to("cpu", copy=True)


class WeightSamples:
    """Samples of every parameter of a base model (see the module docstring).

    ``rows`` maps a parameter name to the number of leading rows compared (the embedding and
    an LM head, which adapters extend with their own rows): only those rows are sampled.
    """

    def __init__(self, model: Any, rows: dict[str, int] | None = None) -> None:
        import torch

        self.rows = dict(rows or {})
        self.samples: dict[str, tuple[tuple[int, ...], Any]] = {}
        for name, param in model.named_parameters():
            value = param.detach()
            if name in self.rows:
                value = value[: self.rows[name]]
            self.samples[name] = (tuple(value.shape), sample(value.to(torch.float32)))

    def differs(self, name: str, param: Any) -> str:
        """``""`` when ``param`` (the adapter's parameter ``name``) matches the server's, else
        how it differs (``"is missing from"`` / ``"differs from"``)."""
        import torch

        known = self.samples.get(name)
        if known is None:
            return "is missing from"
        shape, ref = known
        value = param.detach()
        if name in self.rows:
            value = value[: self.rows[name]]
        if tuple(value.shape) != shape:
            return "differs from"
        mine = sample(value)
        if mine.dtype.is_floating_point and mine.element_size() < ref.element_size():
            ref = ref.to(mine.dtype)
        return "" if torch.equal(mine.to(ref.dtype), ref) else "differs from"
