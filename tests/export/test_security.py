"""An exported directory is data: every manifest field is checked, the files must be exactly
those listed with their sha256, and the graph may not reach outside model.onnx."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("onnxruntime", reason="the 'export' extra is not installed")

MANIFEST = "cultura_export.json"


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _rehash(directory: Path, name: str) -> None:
    digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    _edit(directory, lambda d: d["files"].__setitem__(name, digest))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return change


HOSTILE = [
    (_set("format", "cultura-onnx/99"), "this cultura reads 'cultura-onnx/1'"),
    (_set("extra", 1), "unknown field 'extra'"),
    (_set("culture", "not a tag!"), "field 'culture'"),
    (_set("task", "../../etc"), "field 'task'"),
    (_set("head_type", "causal-lm"), "field 'head_type' must be one of"),
    (_set("labels", ["only"]), "at least two label names"),
    (_set("labels", ["a", "a"]), "unique strings"),
    (_set("labels", ["ok", "x" * 10_000]), r"labels\[1\]"),
    (_set("opset", 99), "field 'opset' must be an integer in 14..20"),
    (_set("opset", True), "field 'opset'"),
    (_set("quantization", "int4"), "field 'quantization'"),
    (_set("inputs", ["input_ids", "past_key_values"]), r"inputs\[1\]"),
    (_set("inputs", ["attention_mask"]), "including 'input_ids'"),
    (_set("vocab_size", -1), "field 'vocab_size'"),
    (_set("max_length", 10**12), "field 'max_length'"),
    (_set("normalizers", [7]), r"normalizers\[0\]"),
    (_set("knowledge.top_k", 10**9), "knowledge.top_k"),
    (_set("knowledge.script", "x"), "knowledge.script"),
    (_set("source.command", "rm -rf /"), "source.command"),
    (_set("files", {"../model.onnx": "0" * 64}), "unsafe file name"),
    (_set("files", {"model.onnx": "0" * 64, "/etc/passwd.json": "0" * 64}), "unsafe file name"),
    (_set("files", {"model.onnx": "0" * 64, "evil.py": "0" * 64}), "not an allowed artifact file type"),
    (_set("files", {"model.onnx": "0" * 64, "sub/tokenizer.json": "0" * 64}), "at its top level"),
    (_set("files", {"tokenizer.json": "0" * 64}), "does not list model.onnx"),
    (_set("files", {"model.onnx": "ZZ"}), "64 lowercase hex digits"),
    (_set("parity.max_abs_diff", float("nan")), "parity.max_abs_diff"),
]


@pytest.mark.parametrize(("change", "message"), HOSTILE)
def test_hostile_manifest_fields_are_refused(change: Callable[[dict[str, Any]], None], message: str,
                                             exports: dict[str, Path], tmp_path: Path) -> None:
    from cultura.export import ExportError, ExportManifest

    data = json.loads((exports["fr"] / MANIFEST).read_text(encoding="utf-8"))
    hostile = copy.deepcopy(data)
    change(hostile)
    with pytest.raises(ExportError, match=message):
        ExportManifest.from_dict(hostile, where="x/cultura_export.json")
    ExportManifest.from_dict(data)  # the original passes


def test_not_an_export(tmp_path: Path, artifacts: dict[str, Path]) -> None:
    from cultura.export import ExportError, OnnxModel

    with pytest.raises(ExportError, match="no cultura_export.json; this is not a directory written"):
        OnnxModel.load(artifacts["fr"])
    d = tmp_path / "e"
    d.mkdir()
    (d / MANIFEST).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ExportError, match="must hold a JSON object"):
        OnnxModel.load(d)


def test_changed_files_are_refused(exports: dict[str, Path], tmp_path: Path) -> None:
    from cultura.export import ExportError, OnnxModel

    d = _copy(exports["fr"], tmp_path / "tampered")
    with open(d / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ExportError, match="model.onnx does not match its sha256"):
        OnnxModel.load(d)

    d = _copy(exports["fr"], tmp_path / "tok")
    (d / "tokenizer.json").write_text((d / "tokenizer.json").read_text() + " ", encoding="utf-8")
    with pytest.raises(ExportError, match="tokenizer.json does not match its sha256"):
        OnnxModel.load(d)

    d = _copy(exports["fr"], tmp_path / "extra")
    (d / "helper.py").write_text("print('hi')\n", encoding="utf-8")
    with pytest.raises(ExportError, match="helper.py is not listed"):
        OnnxModel.load(d)

    d = _copy(exports["fr"], tmp_path / "missing")
    (d / "tokenizer_config.json").unlink()
    with pytest.raises(ExportError, match="tokenizer_config.json is listed .* but missing"):
        OnnxModel.load(d)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_links_are_refused(exports: dict[str, Path], tmp_path: Path) -> None:
    from cultura.export import ExportError, OnnxModel

    d = _copy(exports["fr"], tmp_path / "link")
    target = tmp_path / "elsewhere.json"
    shutil.move(d / "tokenizer.json", target)
    (d / "tokenizer.json").symlink_to(target)
    with pytest.raises(ExportError, match="tokenizer.json is a link"):
        OnnxModel.load(d)


def test_remote_code_is_refused(exports: dict[str, Path], tmp_path: Path) -> None:
    """A tokenizer config asking for code is refused even with consistent hashes."""
    from cultura.export import ExportError, OnnxModel

    d = _copy(exports["fr"], tmp_path / "remote")
    config = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    (d / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    _rehash(d, "tokenizer_config.json")
    with pytest.raises(ExportError, match="asks to run code"):
        OnnxModel.load(d)


def _rewrite_graph(d: Path, change: Callable[[Any], None]) -> None:
    import onnx

    proto = onnx.load(str(d / "model.onnx"), load_external_data=False)
    change(proto)
    (d / "model.onnx").write_bytes(proto.SerializeToString())
    _rehash(d, "model.onnx")


def test_external_data_is_refused(exports: dict[str, Path], tmp_path: Path) -> None:
    """A tensor pointing into another file (here /etc/hostname) never gets read."""
    import onnx

    from cultura.export import ExportError, OnnxModel

    def external(proto: Any) -> None:
        tensor = proto.graph.initializer[0]
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "/etc/hostname"

    d = _copy(exports["fr"], tmp_path / "external")
    _rewrite_graph(d, external)
    with pytest.raises(ExportError, match="keeps tensors in external files"):
        OnnxModel.load(d)


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p.opset_import.add(domain="ai.evil.custom", version=1), "operator domain 'ai.evil.custom'"),
    (lambda p: setattr(p.graph.node[0], "domain", "ai.evil.custom"), "operator domain 'ai.evil.custom'"),
    (lambda p: setattr(p.graph.input[0], "name", "something_else"), "are not the manifest's"),
])
def test_graph_must_match_its_manifest(change: Callable[[Any], None], message: str,
                                       exports: dict[str, Path], tmp_path: Path) -> None:
    from cultura.export import ExportError, OnnxModel

    d = _copy(exports["fr"], tmp_path / "graph")
    _rewrite_graph(d, change)
    with pytest.raises(ExportError, match=message):
        OnnxModel.load(d)


def test_opset_must_match(exports: dict[str, Path], tmp_path: Path) -> None:
    from cultura.export import ExportError, OnnxModel

    d = _copy(exports["fr"], tmp_path / "opset")
    _edit(d, _set("opset", 18))
    with pytest.raises(ExportError, match="declares opset 17, its manifest 18"):
        OnnxModel.load(d)


def test_tokenizer_beyond_the_embedding_is_refused(exports: dict[str, Path], tmp_path: Path) -> None:
    from cultura.export import ExportError, OnnxModel

    d = _copy(exports["fr"], tmp_path / "vocab")
    _edit(d, _set("vocab_size", 10))
    with pytest.raises(ExportError, match="the tokenizer has .* tokens but the graph's embedding 10 rows"):
        OnnxModel.load(d)


def test_changed_normalizers_warn(exports: dict[str, Path], tmp_path: Path) -> None:
    from cultura.adapt.model import CulturaWarning
    from cultura.export import OnnxModel

    d = _copy(exports["fr"], tmp_path / "norm")
    _edit(d, _set("normalizers", ["und.nfc"]))
    with pytest.warns(CulturaWarning, match="normalized differently than when it was exported"):
        OnnxModel.load(d)
