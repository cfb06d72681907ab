"""Adapters are data: no code from an adapter or a base it names ever runs, and every manifest
field that becomes a path, a size or an allocation is validated before anything is allocated.

The hostile artifacts are real saved adapters whose files were edited and whose manifest was
rehashed, so the hashes match and only the content is hostile.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cultura.adapt import artifact
from cultura.adapt.artifact import ArtifactError, Manifest
from cultura.adapt.base import resolve_recorded_base
from cultura.core.errors import CulturaError

SRC = Path(__file__).resolve().parents[2] / "src" / "cultura"
PROMPT = "Do you wish to run the custom code"


# ---------------------------------------------------------------------------- helpers
def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def rehash(directory: Path) -> None:
    """List and hash every file now in ``directory`` in its manifest (as a forger would)."""
    def change(data: dict[str, Any]) -> None:
        data["files"] = {
            p.relative_to(directory).as_posix(): artifact.sha256_file(p)
            for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name not in artifact.UNHASHED
        }

    edit_json(directory / artifact.MANIFEST, change)


def plant_code(directory: Path, marker: Path) -> None:
    """An ``evil.py`` that creates ``marker`` when imported."""
    (directory / "evil.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import BertConfig as EvilConfig\n"
        "from transformers import BertForSequenceClassification as EvilModel\n"
        "from transformers import PreTrainedTokenizerFast as EvilTokenizer\n",
        encoding="utf-8",
    )


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``cultura`` console script with no terminal input at all."""
    environ = {**os.environ, "CULTURA_HOME": str(tmp_path / "home"),
               "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", **env}
    script = Path(sys.executable).with_name("cultura")
    return subprocess.run(
        [str(script), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env=environ, timeout=300, check=False,
    )


def assert_clean_refusal(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and PROMPT not in output and "[y/N]" not in output, output
    assert result.stderr.startswith("error: "), output
    for needle in needles:
        assert needle in result.stderr, output


@pytest.fixture
def no_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if cultura gets as far as reading a model config or weights."""
    import transformers

    from cultura.adapt import heads

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model was loaded before the artifact was refused")

    monkeypatch.setattr(heads, "load_base_model", refuse)
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", refuse)


@pytest.fixture
def evil_base(tiny: dict[str, Path], tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A copy of the tiny BERT whose config.json asks for the code of its ``evil.py``."""
    base = tmp_path / "evil-base"
    shutil.copytree(tiny["bert"], base)
    marker = tmp_path / "base-code-ran"
    plant_code(base, marker)
    edit_json(base / "config.json", lambda c: c.update(auto_map={
        "AutoConfig": "evil.EvilConfig",
        "AutoModelForSequenceClassification": "evil.EvilModel",
    }))
    yield base, marker
    assert not marker.exists(), "code shipped with the base model ran"


# ---------------------------------------------------------------------------- remote code
def test_no_transformers_load_can_prompt_for_remote_code() -> None:
    """Every transformers ``from_pretrained`` in cultura passes ``trust_remote_code=False``
    (``None``, the default, prompts ``[y/N]`` on a terminal)."""
    calls = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "from_pretrained" or "Peft" in ast.unparse(node.func.value):
                continue  # PeftModel.from_pretrained runs no remote code and takes no such flag
            flags = [k.value for k in node.keywords if k.arg == "trust_remote_code"]
            calls.append((path.relative_to(SRC), node.lineno, flags))
    assert len(calls) >= 8, calls
    assert [c for c in calls if not (len(c[2]) == 1 and isinstance(c[2][0], ast.Constant)
                                     and c[2][0].value is False)] == []


@pytest.mark.slow
def test_remote_code_in_the_adapter_never_runs_and_never_prompts(
    fresh_copy: Callable[..., Path], manager: Any, tmp_path: Path
) -> None:
    from cultura.adapt.model import load_pretrained

    d = fresh_copy()
    marker = tmp_path / "adapter-code-ran"
    plant_code(d, marker)
    edit_json(d / "tokenizer_config.json", lambda c: c.update(
        auto_map={"AutoTokenizer": ["evil.EvilTokenizer", "evil.EvilTokenizer"]}))
    rehash(d)
    assert "evil.py" in json.loads((d / artifact.MANIFEST).read_text())["files"]
    for verify in (True, False):
        with pytest.raises(ArtifactError, match=r"tokenizer_config.json has 'auto_map'"):
            load_pretrained(d, manager=manager, verify=verify)
    result = run_cli(["predict", str(d), "the food was terrible"], tmp_path)
    assert_clean_refusal(result, "tokenizer_config.json", "auto_map", "never runs code")
    assert not marker.exists(), "code shipped with the adapter ran"


@pytest.mark.slow
def test_code_files_are_refused_listed_or_not(fresh_copy: Callable[..., Path], manager: Any,
                                              tmp_path: Path, no_model_loading: None) -> None:
    from cultura.adapt.model import load_pretrained

    d = fresh_copy()
    plant_code(d, tmp_path / "marker")
    with pytest.raises(ArtifactError, match=r"file 'evil.py' is not an allowed artifact file"):
        artifact.verify_artifact(d)
    with pytest.raises(ArtifactError, match=r"file 'evil.py' is not an allowed artifact file"):
        load_pretrained(d, manager=manager, verify=False)
    rehash(d)  # now listed and hashed: refused as soon as the manifest is read
    with pytest.raises(ArtifactError, match=r"cultura.json: field 'files': file 'evil.py' is not"):
        artifact.read_manifest(d)
    with pytest.raises(ArtifactError, match=r"field 'files': file 'evil.py'"):
        load_pretrained(d, manager=manager)


@pytest.mark.slow
def test_a_base_with_remote_code_is_refused(
    trained: Any, fresh_copy: Callable[..., Path], manager: Any, evil_base: tuple[Path, Path]
) -> None:
    from cultura.adapt.model import adapt, load_pretrained

    base, _ = evil_base
    expected = rf"base model {re.escape(str(base))}: config.json has 'auto_map'.*never runs code"
    with pytest.raises(ArtifactError, match=expected):
        load_pretrained(trained.directory, base=base, manager=manager)
    with pytest.raises(ArtifactError, match=expected):
        adapt(str(base), culture="zh", task="sentiment", manager=manager)
    d = fresh_copy()  # the manifest itself names the base (cultura.json is not hashed)
    edit_json(d / artifact.MANIFEST, lambda m: m["base_model"].update(id=str(base)))
    with pytest.raises(ArtifactError, match=expected):
        load_pretrained(d, manager=manager)


@pytest.mark.slow
def test_a_hub_base_with_remote_code_is_refused_before_instantiation(
    fresh_copy: Callable[..., Path], tiny: dict[str, Path], tmp_path: Path
) -> None:
    from huggingface_hub import HfApi

    from cultura.testing.hub import LocalHub

    d = fresh_copy()
    edit_json(d / artifact.MANIFEST, lambda m: m["base_model"].update(id="evil-org/remote-base"))
    marker = tmp_path / "hub-code-ran"
    plant_code(tmp_path, marker)
    config = json.loads((tiny["bert"] / "config.json").read_text())
    config.update(model_type="evil-model", auto_map={"AutoConfig": "evil.EvilConfig"})
    with LocalHub() as hub:
        api = HfApi(endpoint=hub.url, token=hub.token)
        api.create_repo("evil-org/remote-base")
        for name, data in (("config.json", json.dumps(config).encode()),
                           ("evil.py", (tmp_path / "evil.py").read_bytes())):
            api.upload_file(path_or_fileobj=data, path_in_repo=name,
                            repo_id="evil-org/remote-base")
        result = run_cli(["predict", str(d), "the food was terrible"], tmp_path,
                         HF_ENDPOINT=hub.url, HF_TOKEN=hub.token, HF_HUB_OFFLINE="0")
        fetched = [r.path for r in hub.log if "/resolve/" in r.path]
    assert_clean_refusal(result, "base model evil-org/remote-base", "config.json", "auto_map")
    assert not any(p.endswith("evil.py") for p in fetched), fetched
    assert not marker.exists()


# ---------------------------------------------------------------------------- the base id
def test_a_recorded_base_is_followed_only_when_safe(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = "x/cultura.json"
    assert resolve_recorded_base(str(tiny["bert"]), where) == (str(tiny["bert"]),) * 2
    assert resolve_recorded_base("org/repo", where) == ("org/repo", "org/repo")
    _, canonical = resolve_recorded_base("all-MiniLM-L6-v2", where)
    assert canonical == "sentence-transformers/all-MiniLM-L6-v2"
    for bad in ("../../x", "./bert", "~/bert", "bert/../../etc", f"{tiny['bert']}/../bert"):
        with pytest.raises(CulturaError, match=r"x/cultura.json: .*does not follow it.*base="):
            resolve_recorded_base(bad, where)
    for bad in ("/etc", "/nonexistent/model"):
        with pytest.raises(CulturaError, match=r"not a model directory on this machine.*base="):
            resolve_recorded_base(bad, where)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "repo").mkdir(parents=True)
    with pytest.raises(CulturaError, match=r"folder or file of that name exists.*base="):
        resolve_recorded_base("org/repo", where)


@pytest.mark.slow
@pytest.mark.parametrize("recorded", ["/etc", "../../etc", "~/model"])
def test_a_hostile_base_path_is_not_read(fresh_copy: Callable[..., Path], manager: Any,
                                        recorded: str, no_model_loading: None) -> None:
    from cultura.adapt.model import load_pretrained

    d = fresh_copy()
    edit_json(d / artifact.MANIFEST, lambda m: m["base_model"].update(id=recorded))
    with pytest.raises(CulturaError, match=r"cultura.json: base model .*base=<the base model>"):
        load_pretrained(d, manager=manager)


# ---------------------------------------------------------------------------- manifest fields
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = value

    return change


def _file(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["files"].update({name: SHA})


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


SHA = "0" * 64
BAD_FIELDS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("task-traversal", _set("task", "../../x"), r"field 'task' must be a task name"),
    ("task-absolute", _set("task", "/etc/passwd"), r"field 'task' must be a task name"),
    ("task-type", _set("task", 7), r"field 'task' must be a task name.*got number 7"),
    ("task-missing", _drop("task"), r"missing field 'task'"),
    ("culture", _set("culture", "not a tag!"), r"field 'culture'"),
    ("head-type", _set("head_type", "exec"), r"field 'head_type' must be one of"),
    ("peft-method", _set("peft_method", "adalora"), r"field 'peft_method' must be one of"),
    ("version-str", _set("format_version", "1"), r"field 'format_version' must be an integer"),
    ("version-bool", _set("format_version", True), r"'format_version'.*got boolean true"),
    ("version-float", _set("format_version", 1.0), r"'format_version'.*got number 1.0"),
    ("version-zero", _set("format_version", 0), r"'format_version' must be an integer at least 1"),
    ("labels-huge", _set("labels", ["x"] * 10**6),
     r"field 'labels' must be an array of at most 4096 items, got an array of 1000000"),
    ("labels-string", _set("labels", "正面负面"), r"field 'labels' must be an array"),
    ("labels-item", _set("labels", ["正面", 3]), r"field 'labels\[1\]' must be a non-empty"),
    ("labels-empty", _set("labels", ["正面", ""]), r"field 'labels\[1\]'"),
    ("labels-long", _set("labels", ["a", "b" * 300]), r"field 'labels\[1\]'"),
    ("labels-dupes", _set("labels", ["a", "a"]), r"field 'labels' must be unique"),
    ("base-missing", _drop("base_model"), r"missing field 'base_model'"),
    ("base-id-empty", _set("base_model.id", ""), r"field 'base_model.id' must be a non-empty"),
    ("base-id-type", _set("base_model.id", ["/etc"]), r"field 'base_model.id'"),
    ("base-id-long", _set("base_model.id", "a/" * 3000), r"field 'base_model.id'"),
    ("base-id-nul", _set("base_model.id", "/tmp/x\x00y"), r"field 'base_model.id'"),
    ("base-revision", _set("base_model.revision", "../../x"), r"field 'base_model.revision'"),
    ("base-fingerprint", _set("base_model.fingerprint", "zz"), r"'base_model.fingerprint'"),
    ("base-vocab-neg", _set("base_model.vocab_size", -1), r"'base_model.vocab_size' must be an integer in 0..4000000"),
    ("base-vocab-str", _set("base_model.vocab_size", "400"), r"'base_model.vocab_size'.*got string '400'"),
    ("base-vocab-huge", _set("base_model.vocab_size", 10**12), r"'base_model.vocab_size'"),
    ("vocab-after-huge", _set("tokenizer.vocab_size_after", 10**12),
     r"field 'tokenizer.vocab_size_after' must be an integer in 0..4000000, got number 1000000000000"),
    ("vocab-after-grows", _set("tokenizer.vocab_size_after", 2_000_000),
     r"'tokenizer.vocab_size_after' \(2000000\) and 'tokenizer.added_tokens' \(8\) do not fit"),
    ("vocab-after-shrinks", _set("tokenizer.vocab_size_after", 10), r"do not fit together"),
    ("vocab-before-neg", _set("tokenizer.vocab_size_before", -5), r"'tokenizer.vocab_size_before'"),
    ("vocab-before-zero", _set("tokenizer.vocab_size_before", 0), r"rows before and after adding 8"),
    ("added-bool", _set("tokenizer.added_tokens", True), r"'tokenizer.added_tokens'.*boolean"),
    ("added-huge", _set("tokenizer.added_tokens", 2_000_000), r"'tokenizer.added_tokens' must be an integer in 0..1000000"),
    ("added-float", _set("tokenizer.added_tokens", 8.0), r"'tokenizer.added_tokens'"),
    ("init-markdown-key", _set("tokenizer.init", {"gloss:x](http://evil)": 3}),
     r"field 'tokenizer.init' must be keys like 'fvt', 'mean' or 'gloss:cc-cedict'"),
    ("init-long-key", _set("tokenizer.init", {"gloss:" + "a" * 500: 3}), r"'tokenizer.init'"),
    ("init-negative", _set("tokenizer.init", {"fvt": -1}), r"'tokenizer.init.fvt'"),
    ("normalizers", _set("tokenizer.normalizers", [5]), r"'tokenizer.normalizers\[0\]' must be an object"),
    ("split-patterns", _set("tokenizer.split_patterns", ["x" * 5000]), r"'tokenizer.split_patterns\[0\]'"),
    ("tokenizer-type", _set("tokenizer", []), r"field 'tokenizer' must be an object"),
    ("max-length-zero", _set("settings.max_length", 0), r"'settings.max_length' must be an integer in 1..131072"),
    ("max-length-huge", _set("settings.max_length", 10**9), r"'settings.max_length'"),
    ("max-length-bool", _set("settings.max_length", True), r"'settings.max_length'"),
    ("top-k-huge", _set("settings.knowledge.top_k", 10**6), r"'settings.knowledge.top_k' must be an integer in 0..1024"),
    ("top-k-neg", _set("settings.knowledge.top_k", -1), r"'settings.knowledge.top_k'"),
    ("max-chars", _set("settings.knowledge.max_chars", 10**9), r"'settings.knowledge.max_chars'"),
    ("enabled-str", _set("settings.knowledge.enabled", "yes"), r"'settings.knowledge.enabled' must be true or false"),
    ("min-score-nan", _set("settings.knowledge.min_score", float("nan")), r"'settings.knowledge.min_score' must be a finite"),
    ("row-training", _set("settings.row_training", "eval"), r"'settings.row_training' must be one of"),
    ("synthesized", _set("synthesized", "true"), r"field 'synthesized' must be true or false"),
    ("knowledge-item", _set("knowledge", ["x"]), r"field 'knowledge\[0\]' must be an object"),
    ("knowledge-sha", _set("knowledge", [{"name": "k", "sha256": "x"}]), r"'knowledge\[0\].sha256'"),
    ("bias-type", _set("bias", [1]), r"field 'bias' must be an object"),
    ("bias-passed", _set("bias", {"passed": "yes"}), r"field 'bias.passed' must be true or false"),
    ("files-type", _set("files", ["adapter_model.safetensors"]), r"field 'files' must be an object"),
    ("files-py", _file("x.py"), r"field 'files': file 'x.py' is not an allowed artifact file type"),
    ("files-bin", _file("x.bin"), r"field 'files': file 'x.bin' is a format that may hold a pickle"),
    ("files-traversal", _set("files", {"../x.json": SHA}), r"field 'files': unsafe file name '../x.json'"),
    ("files-absolute", _set("files", {"/etc/x.json": SHA}), r"field 'files': unsafe file name"),
    ("files-sha", _set("files", {"tokenizer.json": "abc"}), r"field 'files.tokenizer.json' must be a sha256"),
    ("files-sha-upper", _set("files", {"tokenizer.json": "A" * 64}), r"field 'files.tokenizer.json'"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("change", "message"), [c[1:] for c in BAD_FIELDS],
                         ids=[c[0] for c in BAD_FIELDS])
def test_bad_manifest_fields_are_refused_with_the_field_named(
    trained: Any, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = json.loads((trained.directory / artifact.MANIFEST).read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(ArtifactError, match=r"^/x/cultura.json: .*" + message):
        Manifest.from_dict(data, where="/x/cultura.json")


@pytest.mark.slow
@pytest.mark.parametrize("case", ["vocab-after-huge", "labels-huge", "task-traversal", "files-py"])
def test_bad_fields_fail_before_anything_is_loaded(
    fresh_copy: Callable[..., Path], manager: Any, case: str, no_model_loading: None
) -> None:
    from cultura.adapt.model import load_pretrained

    d = fresh_copy()
    change = dict((c[0], c[1]) for c in BAD_FIELDS)[case]
    edit_json(d / artifact.MANIFEST, change)
    with pytest.raises(ArtifactError, match=r"cultura.json: field"):
        load_pretrained(d, manager=manager)
    with pytest.raises(ArtifactError, match=r"cultura.json: field"):
        load_pretrained(d, manager=manager, verify=False)


def test_manifest_files_that_are_not_json_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / artifact.MANIFEST
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"not valid JSON \(not UTF-8, or nested too deeply\)"):
        artifact.read_manifest(tmp_path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ArtifactError, match=r"not valid JSON"):
        artifact.read_manifest(tmp_path)
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"must hold a JSON object"):
        artifact.read_manifest(tmp_path)


@pytest.mark.slow
def test_a_valid_manifest_round_trips(trained: Any) -> None:
    manifest = artifact.read_manifest(trained.directory)
    again = Manifest.from_dict(json.loads(manifest.to_json()))
    assert again == manifest


# ---------------------------------------------------------------------------- safetensors
def _header(path: Path) -> tuple[dict[str, Any], bytes]:
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + length]), raw[8 + length:]


def _write(path: Path, header: dict[str, Any], data: bytes) -> None:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


@pytest.mark.slow
def test_a_lying_added_rows_header_is_refused_before_any_resize(
    fresh_copy: Callable[..., Path], manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    from cultura.adapt.model import load_pretrained

    def no_resize(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the embeddings were resized before the file was checked")

    monkeypatch.setattr(transformers.PreTrainedModel, "resize_token_embeddings", no_resize)
    d = fresh_copy()
    rows = d / artifact.ADDED_TOKENS
    header, data = _header(rows)
    embedding = header["embedding"]

    huge = json.loads(json.dumps(header))  # declares 10^9 rows the file does not hold
    huge["embedding"]["shape"] = [10**9, embedding["shape"][1]]
    huge["embedding"]["data_offsets"][1] = huge["embedding"]["data_offsets"][0] + 4 * 10**9 * embedding["shape"][1]
    _write(rows, huge, data)
    rehash(d)
    with pytest.raises(ArtifactError, match=r"added_tokens.safetensors: not a valid safetensors "
                                            r"file \(tensor 'embedding' .* declares bytes"):
        load_pretrained(d, manager=manager)

    rows.write_bytes(struct.pack("<Q", 10**12) + b"{}")  # header length beyond the file
    rehash(d)
    with pytest.raises(ArtifactError, match=r"header length 1000000000000 exceeds the file"):
        load_pretrained(d, manager=manager)

    fewer = json.loads(json.dumps(header))  # consistent, but not what the manifest records
    width = embedding["shape"][1]
    begin = embedding["data_offsets"][0]
    fewer["embedding"]["shape"] = [3, width]
    fewer["embedding"]["data_offsets"] = [begin, begin + 3 * width * 4]
    _write(rows, fewer, data)
    rehash(d)
    with pytest.raises(ArtifactError, match=r"tensor 'embedding' has shape \[3, 32\].*should be \[8, 32\]"):
        load_pretrained(d, manager=manager)

    metadata = json.loads(json.dumps(header))
    metadata["__metadata__"]["tokens"] = json.dumps(["a", "b"])
    _write(rows, metadata, data)
    rehash(d)
    with pytest.raises(ArtifactError, match=r"lists 2 tokens in its metadata, the manifest records 8"):
        load_pretrained(d, manager=manager)


def test_safetensors_header_checks(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    for raw, message in [
        (b"\x01\x02", "shorter than its 8-byte header length"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (struct.pack("<Q", 3) + b"{x}", "the header is not JSON"),
    ]:
        path.write_bytes(raw)
        with pytest.raises(ArtifactError, match=message):
            artifact.read_safetensors_header(path)
    for entry, message in [
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "declares bytes 0..8"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}, "declares bytes"),
        ({"dtype": "PICKLE", "shape": [1], "data_offsets": [0, 4]}, "malformed dtype"),
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "malformed"),
        ({"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}, "malformed"),
        ({"dtype": "F32", "shape": [1]}, "has no dtype, shape and data_offsets"),
    ]:
        _write(path, {"t": entry}, b"\x00" * 4)
        with pytest.raises(ArtifactError, match=message):
            artifact.read_safetensors_header(path)
    _write(path, {"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                  "__metadata__": {"k": "v"}}, b"\x00" * 4)
    tensors, meta = artifact.read_safetensors_header(path)
    assert tensors == {"t": artifact.TensorInfo("F32", (1,))} and meta == {"k": "v"}


# ---------------------------------------------------------------------------- PEFT config
@pytest.mark.slow
@pytest.mark.parametrize(("key", "value", "message"), [
    ("r", 10**6, r"field 'r' must be an integer in 1..8"),
    ("r", "8", r"field 'r' must be an integer"),
    ("rank_pattern", {"query": 4096}, r"field 'rank_pattern.query' must be an integer in 1..8"),
    ("peft_type", "IA3", r"field 'peft_type' must be one of 'LORA'"),
    ("trainable_token_indices", [0, 10**9], r"field 'trainable_token_indices' must be a list"),
    ("trainable_token_indices", {"emb": list(range(3)) + [-1]}, r"field 'trainable_token_indices.emb' must be a list"),
    ("layer_replication", [[0, 2]] * 1000, r"field 'layer_replication' must be null"),
])
def test_peft_sizes_beyond_the_weights_are_refused(
    fresh_copy: Callable[..., Path], key: str, value: Any, message: str
) -> None:
    d = fresh_copy()
    edit_json(d / artifact.PEFT_CONFIG, _set(key, value))
    rehash(d)
    with pytest.raises(ArtifactError, match=r"adapter_config.json: " + message):
        artifact.verify_artifact(d)


@pytest.mark.slow
def test_prefix_tuning_sizes_must_match_the_stored_prompt(
    tiny: dict[str, Path], manager: Any, tmp_path: Path
) -> None:
    from cultura.adapt.model import adapt, load_pretrained
    from cultura.core.types import PeftSpec

    model = adapt(str(tiny["gpt2"]), culture="zh", task="lm", manager=manager,
                  peft=PeftSpec(method="prefix"))
    d = model.save_pretrained(tmp_path / "prefix")
    artifact.verify_artifact(d)
    edit_json(d / artifact.PEFT_CONFIG, _set("num_virtual_tokens", 60_000))
    rehash(d)
    with pytest.raises(ArtifactError, match=r"declares prompt embeddings of shape \[60000, 128\]"):
        load_pretrained(d, manager=manager)
    edit_json(d / artifact.PEFT_CONFIG, _set("token_dim", 10**9))
    rehash(d)
    with pytest.raises(ArtifactError, match=r"field 'token_dim' must be an integer in 1..65536"):
        load_pretrained(d, manager=manager, verify=False)


# ---------------------------------------------------------------------------- saving
@pytest.mark.slow
def test_saving_writes_only_allowed_files(tiny: dict[str, Path], manager: Any, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from cultura.adapt.model import adapt, load_pretrained

    model = adapt(str(tiny["gpt2"]), culture="zh", task="lm", manager=manager, knowledge=False)
    model.tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    d = model.save_pretrained(tmp_path / "chat")
    assert "chat_template.jinja" in artifact.read_manifest(d).files  # data: allowed
    for rel in artifact.artifact_files(d):
        artifact.check_file_name(rel, str(d))
    assert load_pretrained(d, manager=manager).tokenizer.chat_template == model.tokenizer.chat_template

    original = model.tokenizer._cultura_base  # the class the tokenizer saves as
    save = original.save_pretrained

    def save_with_code(self: Any, directory: str, *args: Any, **kwargs: Any) -> Any:
        Path(directory, "tokenization_x.py").write_text("print('hi')\n")
        return save(self, directory, *args, **kwargs)

    monkeypatch.setattr(original, "save_pretrained", save_with_code)
    with pytest.raises(ArtifactError, match=r"file 'tokenization_x.py' is not an allowed"):
        model.save_pretrained(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat"], "nothing half-written"
