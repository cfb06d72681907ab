"""The PEFT engine: PEFT's own mixed batches (``adapter_names``) on a view of the shared base.

Used for LoRA layers the fused engine does not implement (GPT-2's Conv1D, LoRA on embedding
layers, LoRA biases), when ``engine="peft"``, or when calibration measured it faster. The view
shares every base weight, including the shared embedding table, with the server's model; each
culture is a named PEFT adapter (its added-token rows live in the shared table, so PEFT's
trainable-token wrappers are not used). All cultures on this engine must have heads of the
same shapes (PEFT copies the base head for every adapter).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cultura.serve.errors import ServeError
from cultura.serve.modules import set_submodule

if TYPE_CHECKING:
    from cultura.serve.adapters import ServedAdapter

__all__ = ["PeftEngine"]


class PeftEngine:
    """Named PEFT adapters on a weight-sharing view of the base (see the module docstring)."""

    def __init__(self, make_base: Callable[[], Any], device: Any) -> None:
        self._make_base = make_base
        self.device = device
        self.model: Any = None
        self.loaded: list[str] = []

    def load(self, adapter: ServedAdapter) -> None:
        """Add ``adapter`` as a named PEFT adapter (once)."""
        if adapter.key in self.loaded:
            return
        from peft import get_peft_model, set_peft_model_state_dict

        config = copy.deepcopy(adapter.peft_config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            if self.model is None:
                base = self._make_base()
                for name, head in adapter.heads.items():
                    set_submodule(base, name, copy.deepcopy(head))
                model = get_peft_model(base, config, adapter_name=adapter.key)
            else:
                model = self.model
                self._check_heads(adapter)
                model.add_adapter(adapter.key, config)
            try:
                result = set_peft_model_state_dict(model, adapter.peft_state, adapter_name=adapter.key)
            except RuntimeError as exc:
                raise ServeError(f"{adapter.source}: PEFT cannot load this adapter: {exc}") from None
        missing = [k for k in getattr(result, "unexpected_keys", []) if adapter.key not in k]
        if missing:
            raise ServeError(
                f"{adapter.source}: PEFT did not use {len(missing)} saved weights (e.g. {missing[0]})"
            )
        self.model = model.to(self.device).eval()
        self.loaded.append(adapter.key)

    def _check_heads(self, adapter: ServedAdapter) -> None:
        base = self.model.get_base_model()
        for name, head in adapter.heads.items():
            wrapper = base.get_submodule(name)
            original = getattr(wrapper, "original_module", wrapper)
            mine = {k: tuple(v.shape) for k, v in head.state_dict().items()}
            theirs = {k: tuple(v.shape) for k, v in original.state_dict().items()}
            if mine != theirs:
                raise ServeError(
                    f"{adapter.key}: its {name} has shapes {mine}, the cultures already on the "
                    f"PEFT engine have {theirs} (e.g. a different number of labels); PEFT mixes "
                    "only same-shaped heads: serve it with engine='fused' or on another server"
                )

    def unload(self, key: str) -> None:
        if key not in self.loaded:
            return
        self.loaded.remove(key)
        if not self.loaded:
            self.model = None
        else:
            self.model.delete_adapter(key)

    def forward(self, inputs: dict[str, Any], adapter_names: Sequence[str]) -> Any:
        """Logits for a batch whose row ``i`` uses the adapter ``adapter_names[i]``."""
        return self.model(**inputs, adapter_names=list(adapter_names)).logits
