"""Server set-up cost: adding 32 adapters to a :class:`~cultura.serve.MultiCultureServer`.

``bench_setup(options)`` builds the serving benchmarks' base (``options["base"]``: ``minilm``,
``bert-base`` or ``llama-0.5b``, through :func:`run.base_path`), saves 32 sw-XX seq-cls LoRA
adapters (r=8, different random weights) to directories, and times a fresh server on
``options["device"]`` adding them:

* from their directories (what ``cultura serve`` does): total seconds and ms per adapter;
* as in-memory :class:`~cultura.adapt.model.CulturalModel` objects (the benchmarks' own way);
* the bytes copied between devices while adding the directories (counted by a torch dispatch
  mode on every ``copy_`` / ``_to_copy`` whose source and target devices differ; 0 on a CPU
  run, where nothing crosses devices).

Adding an adapter never copies or reloads the base: the target is 32 adapters in seconds on
the ~0.45B decoder and no more bytes across devices than the adapters' own weights.

    python -c "import sys; sys.path.insert(0, 'benchmarks'); import serve_setup; \
print(serve_setup.bench_setup({'base': 'minilm', 'device': 'cpu'}))"
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (the serving benchmarks' base builders and result rows)

N_ADAPTERS = 32
#: whole seconds for 32 adapters (directories): "in seconds"
TARGET_SECONDS = 10.0


class _CrossDeviceBytes:
    """Counts the bytes of tensor copies whose source and target devices differ."""

    def __init__(self) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                kwargs = kwargs or {}
                name = getattr(func, "__name__", "")
                if name.startswith("copy_") and len(args) >= 2:
                    dst, src = args[0], args[1]
                    if hasattr(src, "device") and src.device != dst.device:
                        counter.bytes += src.numel() * src.element_size()
                elif name.startswith("_to_copy") and args:
                    src, device = args[0], kwargs.get("device")
                    if device is not None and hasattr(src, "device") and src.device != device:
                        counter.bytes += src.numel() * src.element_size()
                return func(*args, **kwargs)

        self.bytes = 0
        self.mode = Mode()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_setup(options: dict[str, Any]) -> list[dict[str, object]]:
    """Time to add 32 adapters to a fresh server (directories and in-memory models), ms per
    adapter, and the bytes copied across devices while adding them (see the module docstring)."""
    run.OPTIONS.update(options)
    run._quiet()
    import torch

    from cultura.adapt.model import adapt
    from cultura.serve import MultiCultureServer

    device = str(run.OPTIONS.get("device", "cpu"))
    base = run.base_path()
    torch.manual_seed(0)
    model = adapt(base, "sw", "sentiment", knowledge=False, extend_vocab=False)
    regions = run.REGIONS[:N_ADAPTERS]
    with tempfile.TemporaryDirectory(prefix="cultura-bench-setup-") as tmp:
        dirs = []
        for i, region in enumerate(regions):
            run._randomize(model, i)
            dirs.append(model.save_pretrained(Path(tmp) / f"sw-{region}"))

        def add_dirs(server: Any) -> float:
            start = time.perf_counter()
            for region, path in zip(regions, dirs, strict=True):
                server.add(path, culture=f"sw-{region}")
            _sync(device)
            return time.perf_counter() - start

        server = MultiCultureServer(base, slots=8, device=device)
        dir_s = add_dirs(server)
        counted = MultiCultureServer(base, slots=8, device=device)
        copies = _CrossDeviceBytes()
        with copies.mode:
            add_dirs(counted)
        del server, counted
        adapter_bytes = sum(p.stat().st_size for d in dirs for p in [d / "adapter_model.safetensors"])

    server = MultiCultureServer(base, slots=8, device=device)
    start = time.perf_counter()
    for i, region in enumerate(regions):
        run._randomize(model, i)
        server.add(model, culture=f"sw-{region}")
    _sync(device)
    mem_s = time.perf_counter() - start
    name = f"{run.OPTIONS['base']} on {device}"
    mb = copies.bytes / 2**20
    return [
        run.result(f"server setup ({name}): add {N_ADAPTERS} adapter directories", dir_s, "s",
                   f"<= {TARGET_SECONDS:g} s", dir_s <= TARGET_SECONDS),
        run.result(f"server setup ({name}): per adapter directory", dir_s / N_ADAPTERS * 1e3, "ms",
                   "context", None),
        run.result(f"server setup ({name}): add {N_ADAPTERS} in-memory adapters", mem_s, "s",
                   f"<= {TARGET_SECONDS:g} s", mem_s <= TARGET_SECONDS),
        run.result(f"server setup ({name}): bytes copied across devices for {N_ADAPTERS} adapters",
                   mb, "MiB", f"<= {2 * adapter_bytes / 2**20:.1f} MiB (2x the adapter files)",
                   copies.bytes <= 2 * adapter_bytes),
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(bench_setup({"base": "minilm", "device": "cpu"}), indent=2))
