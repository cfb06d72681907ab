"""``cultura export ADAPTER --format onnx|vllm``: an adapter for another engine.

torch, transformers, peft and onnx are imported inside the command, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cultura.adapt.cli_common import ADAPTER_HELP, AdapterArg, AdapterParamType, adapter_options
from cultura.cli import emit_json
from cultura.export.manifest import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, QUANTIZATIONS

#: ``--format`` -> what it writes (the formats whose module is installed)
FORMATS = {
    "onnx": "one merged ONNX graph (seq-cls, token-cls) for onnxruntime; --quantize int8",
    "vllm": "a causal-LM LoRA in the layout vLLM's multi-LoRA serving loads",
}


@click.command("export", help=f"""Export ADAPTER for another engine.

--format onnx: the adapter merged into its base (LoRA folded in, added-token rows and the head
included) as one ONNX graph for onnxruntime on CPU, with its tokenizer files and
cultura_export.json (culture, task, labels, head, opset, quantization, source adapter and its
hashes). The graph is checked against the PyTorch adapter before anything is written. Run it
with cultura.export.OnnxModel.load(DIR). Needs the 'export' extra.

--format vllm: a causal-LM LoRA adapter (no added vocabulary) in the layout vLLM's multi-LoRA
serving loads.

{ADAPTER_HELP}

\b
Examples:
  cultura export zh/sentiment --format onnx --quantize int8 -o zh-sentiment-int8
  cultura export ./my-adapter --format onnx --opset 18
  cultura export ./my-lm-adapter --format vllm --name zh-chat
""")
@click.argument("adapter", type=AdapterParamType())
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="onnx",
              show_default=True, help="onnx: " + FORMATS["onnx"] + ". vllm: " + FORMATS["vllm"] + ".")
@click.option("--quantize", type=click.Choice(QUANTIZATIONS), default=None,
              help="onnx: store the weights as int8 (onnxruntime dynamic quantization).")
@click.option("--opset", type=click.IntRange(MIN_OPSET, MAX_OPSET), default=None,
              help=f"onnx: the ONNX opset  [default: {DEFAULT_OPSET}]")
@click.option("--name", default=None, help="vllm: the adapter's name in vLLM "
              "(--lora-modules NAME=PATH)  [default: CULTURE-TASK]")
@click.option("--output", "--out", "-o", "output", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write  [default: ./CULTURE-TASK-FORMAT[-int8]]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@adapter_options
def export(adapter: AdapterArg, fmt: str, quantize: str | None, opset: int | None,
           name: str | None, output: Path | None, overwrite: bool, as_json: bool,
           base: str | None, offline: bool) -> None:
    from cultura.adapt.cli_common import load_adapter
    from cultura.export.errors import ExportError

    if fmt != "onnx" and (quantize or opset is not None):
        raise click.UsageError("--quantize and --opset apply to --format onnx only")
    if fmt != "vllm" and name is not None:
        raise click.UsageError("--name applies to --format vllm only")
    model = load_adapter(adapter, base=base, offline=offline)
    if output is None:
        suffix = f"-{quantize}" if quantize else ""
        output = Path(f"{model.culture}-{model.spec.task}-{fmt}{suffix}")
    if fmt == "vllm":
        from cultura.export.vllm import export_vllm

        export_vllm(model, output, name=name, overwrite=overwrite)
        info: dict[str, Any] = {"format": "vllm", "output": str(output), "adapter": str(adapter),
                                "culture": model.culture, "task": model.spec.task}
    else:
        from cultura.export.manifest import read_export_manifest
        from cultura.export.onnx import export_onnx

        export_onnx(model, output, quantize=quantize, opset=opset or DEFAULT_OPSET,
                    overwrite=overwrite, source=str(adapter))
        manifest = read_export_manifest(output)
        info = {"format": "onnx", "output": str(output), "adapter": str(adapter),
                "culture": manifest.culture, "task": manifest.task,
                "head_type": manifest.head_type, "labels": list(manifest.labels),
                "opset": manifest.opset, "quantization": manifest.quantization,
                "parity": dict(manifest.parity)}
    if as_json:
        emit_json(info)
        return
    if fmt == "vllm":
        click.echo(f"wrote {output}: {adapter} ({model.culture}/{model.spec.task}) as a vLLM "
                   "LoRA adapter (see its README.md)")
        return
    if not isinstance(info["parity"].get("max_abs_diff"), float):
        raise ExportError(f"{output}: the export recorded no parity check")
    weights = "int8 weights (dynamic quantization)" if quantize else "float32 weights"
    click.echo(
        f"wrote {output}: {adapter} ({info['culture']}/{info['task']}, {info['head_type']}, "
        f"labels {', '.join(info['labels'])}) as ONNX opset {info['opset']}, {weights}\n"
        f"logits vs the PyTorch adapter: max |diff| {info['parity']['max_abs_diff']:.2g} on "
        f"{info['parity']['texts']} probe texts\n"
        f"run it: cultura.export.OnnxModel.load({str(output)!r}).predict([...])"
    )
