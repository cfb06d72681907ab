"""Few- and zero-shot: prompts from a culture's heads, verbalizer log-likelihood on causal LMs,
label-name similarity on encoders, the CLI (docs/zero-shot.md)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cultura
from cultura.adapt.knowledge import KnowledgeInjector
from cultura.adapt.prompting import DEFAULT_TEMPLATE, Prompter, Shot, ZeroShotClassifier
from cultura.adapt.zeroshot import zero_shot
from cultura.cli import cli, main
from cultura.core.declarative import Head, Plugin
from cultura.core.errors import CulturaError, DataError, RegistrationError
from cultura.core.plugins import PluginManager, reset_plugin_manager
from cultura.core.profile import culture as get_profile
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    CultureInfo,
    KnowledgeSource,
    Normalizer,
    PromptTemplate,
    TokenizerTweaks,
)

from .conftest import KNOWLEDGE, T2S

#: labels the tiny models' vocabularies know (好 and 差 are in the test corpus)
LABELS = ("好", "差", "一般")
TEMPLATE = PromptTemplate(
    "判断情感：{labels}", "评论：{text}\n情感：{label}", label_separator="、",
    descriptions={"一般": "没有 特别"},
)
SAMPLE = [
    {"text": "我們 喜歡 这个 電影", "label": "好"},
    {"text": "今天 天氣 很 好", "label": "好"},
    {"text": "服務 太 差 了", "label": "差"},
    {"text": "一 二 三", "label": "一般"},
]


def _plugin(sample: Path) -> Any:
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.3", __name__="cultura_prompttest")

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="prompt test culture")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(normalizers=(
            Normalizer("test.t2s", lambda texts: [t.translate(T2S) for t in texts], "t2s"),
        ))

    @cultura.hookimpl
    def cultura_knowledge(culture: Any) -> list[KnowledgeSource]:
        return [KnowledgeSource("test.culture", license="CC0-1.0", entries=KNOWLEDGE,
                                templates={"causal-lm": "背景：{knowledge}\n{text}"})]

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return [
            AdapterHeadSpec("sentiment", "seq-cls", labels=LABELS, prompt=TEMPLATE,
                            sample_data=lambda: sample),
            AdapterHeadSpec("plain", "seq-cls", labels=LABELS),
            AdapterHeadSpec("ner", "token-cls", labels=("O", "B-LOC", "I-LOC")),
        ]

    for hook in (cultura_cultures, cultura_tokenizer_tweaks, cultura_knowledge, cultura_adapter_heads):
        setattr(plugin, hook.__name__, hook)
    return plugin


@pytest.fixture(scope="module")
def pm(tmp_path_factory: pytest.TempPathFactory) -> PluginManager:
    sample = tmp_path_factory.mktemp("prompt-data") / "sentiment.jsonl"
    sample.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in SAMPLE), encoding="utf-8")
    manager = PluginManager(entry_points=False)
    record = manager.register(_plugin(sample), name="prompttest")
    assert record.status == "active", record.error
    return manager


@pytest.fixture
def as_default(pm: PluginManager):
    reset_plugin_manager(pm)
    yield pm
    reset_plugin_manager(None)


# ------------------------------------------------------------------------------ prompts
def test_prompt_holds_instruction_verbalizers_shots_and_knowledge(pm: PluginManager) -> None:
    p = cultura.prompt("zh", "sentiment", text="中秋 我們 吃 月饼", manager=pm,
                       shots=[("電影 很 好", "好"), {"text": "服務 太 差", "label": "差"}])
    assert p.verbalizers == LABELS and p.labels == LABELS
    assert p.text.startswith("判断情感：好、差、一般\n\n")
    assert p.shots == (Shot("电影 很 好", "好"), Shot("服务 太 差", "差"))  # normalized
    assert "评论：电影 很 好\n情感：好\n\n评论：服务 太 差\n情感：差\n\n" in p.text
    # the knowledge retrieved for the (normalized) text, independently, is in the prompt
    expected = KnowledgeInjector.from_profile(get_profile("zh", manager=pm), "causal-lm",
                                              top_k=2).retrieve("中秋 我们 吃 月饼")
    assert [r.entry.id for r in p.knowledge] == [r.entry.id for r in expected] == ["midautumn"]
    assert p.text.endswith("背景：中秋 吃 月饼 mid autumn moon cakes\n评论：中秋 我们 吃 月饼\n情感：")
    assert p.query == "中秋 我们 吃 月饼"
    data = p.as_dict()
    assert data["knowledge"][0]["id"] == "midautumn" and data["prompt"] == p.text == str(p)
    assert data["verbalizers"] == {label: label for label in LABELS}


def test_a_prompt_without_its_knowledge_is_caught(pm: PluginManager) -> None:
    """Every retrieved entry is written into the prompt; knowledge=False or k=0 leaves it out."""
    text = "春节 是 什么"
    with_knowledge = cultura.prompt("zh", "sentiment", text=text, manager=pm)
    assert with_knowledge.knowledge, "the text names a festival the knowledge describes"
    for found in with_knowledge.knowledge:
        assert found.entry.text in with_knowledge.text
    for kwargs in ({"knowledge": False}, {"k": 0}):
        bare = cultura.prompt("zh", "sentiment", text=text, manager=pm, **kwargs)
        assert bare.knowledge == () and "背景" not in bare.text
        assert bare.text == "判断情感：好、差、一般\n\n评论：春节 是 什么\n情感："
    nothing = cultura.prompt("zh", "sentiment", text="一 二 三", manager=pm)
    assert nothing.knowledge == () and "背景" not in nothing.text


def test_shots_drawn_from_the_heads_sample_data(pm: PluginManager, tmp_path: Path) -> None:
    drawn = cultura.prompt("zh", "sentiment", text="我们 喜欢 这个 电影", shots=3, manager=pm)
    # one label after the other, in file order, never the text asked about
    assert drawn.shots == (Shot("今天 天气 很 好", "好"), Shot("服务 太 差 了", "差"),
                           Shot("一 二 三", "一般"))
    assert [s.label for s in cultura.prompt("zh", "sentiment", shots=2, manager=pm).shots] == ["好", "差"]
    assert len(cultura.prompt("zh", "sentiment", shots=10, manager=pm).shots) == len(SAMPLE)
    layout = cultura.prompt("zh", "sentiment", manager=pm)
    assert layout.text.endswith("评论：{text}\n情感：") and layout.query is None
    with pytest.raises(CulturaError, match="'plain' of zh has no sample data"):
        cultura.prompt("zh", "plain", shots=2, manager=pm)
    shots = tmp_path / "shots.jsonl"
    shots.write_text('{"text": "很 好", "label": "好"}\n{"text": "差", "label": "坏"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"shots\.jsonl:2"):
        cultura.prompt("zh", "sentiment", shots=shots, manager=pm)
    shots.write_text('{"text": "很 好", "label": "好"}\n', encoding="utf-8")
    assert cultura.prompt("zh", "sentiment", shots=str(shots), manager=pm).shots == (Shot("很 好", "好"),)
    with pytest.raises(CulturaError, match=r"shots\[0\]"):
        cultura.prompt("zh", "sentiment", shots=["很 好"], manager=pm)


def test_default_template_and_overrides(pm: PluginManager) -> None:
    plain = cultura.prompt("zh", "plain", text="很 好", manager=pm, knowledge=False)
    assert plain.text == "Classify the text as one of: 好, 差, 一般.\n\nText: 很 好\nAnswer: "
    assert DEFAULT_TEMPLATE.verbalizers == {}
    custom = PromptTemplate("{labels}?", "{text} => {label}", verbalizers={"好": "喜歡"})
    p = cultura.prompt("zh", "plain", text="x", template=custom, manager=pm, knowledge=False)
    assert p.verbalizers == ("喜欢", "差", "一般"), "verbalizers get the culture's normalizers"
    assert p.text == "喜欢 / 差 / 一般?\n\nx => "
    with pytest.raises(RegistrationError, match="verbalizers names '坏'"):
        cultura.prompt("zh", "plain", template=PromptTemplate("", "{text}{label}", verbalizers={"坏": "x"}),
                       manager=pm)
    with pytest.raises(CulturaError, match="token-cls head"):
        cultura.prompt("zh", "ner", manager=pm)
    with pytest.raises(CulturaError, match="offers no task 'nope'"):
        cultura.prompt("zh", "nope", manager=pm)


def test_prompt_template_validation() -> None:
    with pytest.raises(RegistrationError, match=r"PromptTemplate\.example: .*\{text\} and then \{label\}"):
        PromptTemplate("", "{label}: {text}")
    with pytest.raises(RegistrationError, match=r"PromptTemplate\.instruction: .*uses \{text\}"):
        PromptTemplate("{text}", "{text}{label}")
    with pytest.raises(RegistrationError, match="literal brace"):
        PromptTemplate("", "{text} {label} }")
    with pytest.raises(RegistrationError, match="format spec"):
        PromptTemplate("", "{text:>5} {label}")
    with pytest.raises(RegistrationError, match="two labels share a verbalizer"):
        AdapterHeadSpec("s", "seq-cls", labels=("a", "b"),
                        prompt=PromptTemplate("", "{text}{label}", verbalizers={"a": "b"}))
    with pytest.raises(RegistrationError, match="prompts are for seq-cls heads"):
        AdapterHeadSpec("t", "token-cls", labels=("O", "B"), prompt=TEMPLATE)
    with pytest.raises(RegistrationError, match="must be a PromptTemplate"):
        AdapterHeadSpec("s", "seq-cls", labels=LABELS, prompt="{text}{label}")  # type: ignore[arg-type]
    literal = PromptTemplate("", "{{x}} {text}: {{label}} {label}!")
    assert literal.query("a{b}") == "{x} a{b}: {label} " and literal.shot("t", "L") == "{x} t: {label} L!"


def test_declared_head_carries_its_prompt_and_api_1_3_loads() -> None:
    class Toy(Plugin):
        CULTURA_API_VERSION = "1.3"
        cultures = CultureInfo("zh", description="toy")
        heads = Head("sentiment", "seq-cls", labels=LABELS, prompt=TEMPLATE)

    toy = Toy()
    (spec,) = toy.cultura_adapter_heads(Culture.parse("zh"))
    assert spec.prompt is TEMPLATE
    assert cultura.API_VERSION == "1.3"
    manager = PluginManager(entry_points=False)
    assert manager.register(toy, name="toy").status == "active"
    newer = types.SimpleNamespace(CULTURA_API_VERSION="1.4", __name__="cultura_newer")
    with pytest.warns(cultura.PluginWarning, match="targets cultura plugin API 1.4"):
        assert manager.register(newer, name="newer").status == "incompatible"


def test_real_plugins_give_prompts_in_their_language() -> None:
    """cultura-zh and cultura-ja (installed with the project) declare their sentiment prompts."""
    zh = cultura.prompt("zh", "sentiment", text="中秋节我们一家人一起吃月饼", shots=3)
    assert zh.text.startswith("判断下面这段话的情感，只回答正面、负面、中性之一。")
    assert [s.label for s in zh.shots] == ["正面", "负面", "中性"]
    assert any("月饼" in r.entry.text for r in zh.knowledge) and "背景知识：" in zh.text
    tw = cultura.prompt("zh-TW", "sentiment", text="服務太差了")
    assert tw.verbalizers == ("正面", "負面", "中性") and tw.text.startswith("判斷")
    ja = cultura.prompt("ja", "sentiment", text="料理が冷めていた")
    assert ja.verbalizers == ("肯定的", "否定的", "中立") and ja.text.endswith("文：料理が冷めていた\n感情：")
    # docs/zero-shot.md's worked example is what the command prints
    doc = (Path(__file__).parents[2] / "docs" / "zero-shot.md").read_text(encoding="utf-8")
    command = '$ cultura prompt zh sentiment --text "中秋节我们一家人一起吃月饼，真开心" --shots 3\n'
    shown = doc[doc.index(command, doc.index("### Worked example")) + len(command):].split("\n```")[0]
    assert shown == cultura.prompt("zh", "sentiment", text="中秋节我们一家人一起吃月饼，真开心", shots=3).text


# ------------------------------------------------------------------------------ loglik
def _direct_loglik(directory: Path, prompt: str, words: tuple[str, ...]) -> list[float]:
    """Sum of log p(verbalizer tokens | prompt), computed with the plain transformers model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    context = tok(prompt)["input_ids"]
    out = []
    for word in words:
        ids = tok(prompt + word)["input_ids"]
        assert ids[: len(context)] == context and len(ids) > len(context)
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
        out.append(sum(float(logp[t - 1, ids[t]]) for t in range(len(context), len(ids))))
    return out


@pytest.fixture(scope="module")
def gpt2_512(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny GPT-2 with 512 positions: prompts of byte-level Chinese need more than 128."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    directory = tmp_path_factory.mktemp("gpt2-512")
    config = AutoConfig.from_pretrained(tiny["gpt2"])
    config.n_positions = 512
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(directory)
    AutoTokenizer.from_pretrained(tiny["gpt2"]).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def causal(gpt2_512: Path, pm: PluginManager) -> ZeroShotClassifier:
    return zero_shot(gpt2_512, "zh", "sentiment", manager=pm, dtype="float32",
                     normalization="sum", shots=[("很 好", "好")])


def test_loglik_scores_equal_a_direct_computation(causal: ZeroShotClassifier, gpt2_512: Path) -> None:
    import numpy as np

    texts = ["中秋 吃 月饼", "服務 太 差 了", "the train was slow"]
    prompts = causal.prompts(texts)
    assert prompts[0].knowledge and prompts[1].query == "服务 太 差 了"
    scores = causal.scores(texts, batch_size=4)  # rows of different lengths share batches
    expected = np.array([_direct_loglik(gpt2_512, p.text, p.verbalizers) for p in prompts])
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    np.testing.assert_allclose(causal.scores(texts, batch_size=1), scores, atol=1e-5)
    mean = ZeroShotClassifier(causal.model, "sentiment", shots=[("很 好", "好")])  # default: mean
    assert mean.normalization == "mean" and mean.method == "loglik"
    lengths = np.array([[len(causal.model.tokenizer(p.text + w)["input_ids"])
                         - len(causal.model.tokenizer(p.text)["input_ids"]) for w in p.verbalizers]
                        for p in prompts])
    np.testing.assert_allclose(mean.scores(texts), expected / lengths, atol=1e-4)
    predictions = causal.predict(texts, top_k=3)
    for row, prediction in zip(scores, predictions, strict=True):
        probs = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        assert prediction["label"] == LABELS[int(row.argmax())]
        assert [t["label_id"] for t in prediction["top"]] == list(np.argsort(-row, kind="stable"))
        assert prediction["score"] == pytest.approx(probs.max())
    assert [p["text"] for p in predictions] == texts


def test_a_model_trained_to_answer_predicts_its_verbalizer(gpt2_512: Path, pm: PluginManager) -> None:
    """A causal LM fine-tuned on three prompts, each answered with another verbalizer, predicts
    them; an untrained one does not (so the test can fail)."""
    import torch

    from cultura.adapt import lm
    from cultura.adapt.build import adapt

    answers = {"我们 喜欢 这个 电影": "好", "服务 太 差 了": "差", "一 二 三 四": "一般"}
    model = adapt(gpt2_512, "zh", head=lm.builtin_spec(gpt2_512), extend_vocab=False,
                  knowledge=False, manager=pm, dtype="float32")
    classifier = ZeroShotClassifier(model, "sentiment", knowledge=False)
    untrained = [p["label"] for p in classifier.predict(list(answers))]
    assert untrained != list(answers.values())
    with model.tokenizer.normalized_input():  # keep the prompts' line breaks
        sequences = [torch.tensor([model.tokenizer(p.text + answers[p.query])["input_ids"]])
                     for p in classifier.prompts(list(answers))]
    net = model.model
    for parameter in net.parameters():
        parameter.requires_grad_(True)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    torch.manual_seed(0)
    net.train()
    for _ in range(40):
        for ids in sequences:
            optimizer.zero_grad()
            net(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
    assert [p["label"] for p in classifier.predict(list(answers))] == list(answers.values())
    # the same through CulturalModel.predict(zero_shot=True), on the adapter's own network
    direct = model.predict(list(answers), zero_shot=True, task="sentiment", knowledge=False, top_k=3)
    assert [p["label"] for p in direct] == list(answers.values())
    assert direct == classifier.predict(list(answers), top_k=3)


# ------------------------------------------------------------------------------ similarity
def test_encoder_similarity_picks_the_label_named_by_the_text(tiny: dict[str, Path], pm: PluginManager) -> None:
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    classifier = zero_shot(tiny["bert"], "zh", "sentiment", manager=pm, dtype="float32")
    assert classifier.method == "similarity"
    # the label texts: the names, or the description the template gives (一般: 没有 特别)
    predictions = classifier.predict(["好", "差", "没有 特别"], top_k=3)
    assert [p["label"] for p in predictions] == ["好", "差", "一般"]
    scores = classifier.scores(["好", "差", "没有 特别"])
    np.testing.assert_allclose(np.diag(scores), 1.0, atol=1e-5)
    # the cosines equal mean-pooled embeddings computed with the plain encoder
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    encoder = AutoModel.from_pretrained(tiny["bert"]).eval()

    def embed(texts: list[str]) -> torch.Tensor:
        enc = tok(texts, padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = encoder(**enc).last_hidden_state
        mask = enc["attention_mask"][..., None].float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    texts = ["我們 喜歡 这个 電影", "服务 太 差 了"]
    expected = embed(["我们 喜欢 这个 电影", "服务 太 差 了"]) @ embed(["好", "差", "没有 特别"]).T
    np.testing.assert_allclose(classifier.scores(texts), expected.double().numpy(), atol=1e-5)


def test_predict_zero_shot_on_an_adapter(tiny: dict[str, Path], pm: PluginManager) -> None:
    from cultura.adapt.build import adapt

    model = adapt(tiny["bert"], "zh", "sentiment", manager=pm, extend_vocab=False, dtype="float32")
    out = model.predict(["差", "好"], top_k=2, zero_shot=True)
    assert [p["label"] for p in out] == ["差", "好"] and all(len(p["top"]) == 2 for p in out)
    assert set(out[0]) == set(model.predict(["差"])[0]) == {"text", "label", "score", "top"}
    with pytest.raises(CulturaError, match="loglik scoring needs a causal LM"):
        ZeroShotClassifier(model, method="loglik")
    with pytest.raises(CulturaError, match="token-cls head"):
        model.predict(["差"], zero_shot=True, task="ner")
    with pytest.raises(CulturaError, match="normalization must be one of"):
        ZeroShotClassifier(model, normalization="max")


def test_too_long_prompts_and_lm_models_without_a_task(causal: ZeroShotClassifier, pm: PluginManager) -> None:
    with pytest.raises(CulturaError, match=r"more than the model's 512; use fewer shots"):
        causal.scores(["很 长 的 评论 " * 100])
    with pytest.raises(CulturaError, match="name the task to classify for"):
        ZeroShotClassifier(causal.model)
    assert isinstance(Prompter(causal.model.profile, causal.spec, shots=0).build("x").shots, tuple)


# ------------------------------------------------------------------------------ CLI
def _run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_prompt_json_and_text(as_default: PluginManager) -> None:
    data = json.loads(_run(["prompt", "zh", "sentiment", "--text", "中秋 吃 月饼", "--shots", "2", "--json"]))
    assert data["knowledge"][0]["id"] == "midautumn" and len(data["shots"]) == 2
    assert data["verbalizers"] == {label: label for label in LABELS}
    assert data["prompt"] == cultura.prompt("zh", "sentiment", text="中秋 吃 月饼", shots=2).text
    plain = _run(["prompt", "zh", "sentiment", "--text", "中秋 吃 月饼", "--no-knowledge"])
    assert plain.strip().endswith("情感：") and "背景" not in plain


def test_cli_zero_shot_and_predict_zero_shot_json(as_default: PluginManager, tiny: dict[str, Path],
                                                  tmp_path: Path, capsys) -> None:
    from cultura.adapt.build import adapt

    out = json.loads(_run(["zero-shot", "zh", "sentiment", "好", "差", "--base", str(tiny["bert"]),
                           "--top-k", "3", "--json", "--dtype", "float32"]))
    assert [p["label"] for p in out] == ["好", "差"] and len(out[0]["top"]) == 3
    loglik = json.loads(_run(["zero-shot", "zh", "sentiment", "服务 太 差", "--base", str(tiny["gpt2"]),
                              "--normalization", "sum", "--json"]))
    assert loglik[0]["label"] in LABELS
    directory = tmp_path / "adapter"
    adapt(tiny["bert"], "zh", "sentiment", extend_vocab=False).save_pretrained(directory)
    predicted = json.loads(_run(["predict", str(directory), "差", "没有 特别", "--zero-shot", "--json"]))
    assert set(predicted[0]) == {"text", "label", "score", "top"}
    # the adapter read back from its directory gets the plugin's template (the description of 一般)
    assert [p["label"] for p in predicted] == ["差", "一般"]
    with pytest.raises(SystemExit):
        main(["predict", str(directory), "差", "--task", "sentiment"])
    assert "add --zero-shot" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prompt", "zh", "sentiment", "--shots", "missing.jsonl"])
    assert "neither a number of shots nor an existing data file" in capsys.readouterr().err


def test_cultura_prompt_imports_no_model_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from cultura.cli import main\n"
        "main(['prompt', 'zh', 'sentiment', '--text', '中秋节吃月饼', '--shots', '2', '--json'])\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'peft') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout and '"festival.midautumn"' in out.stdout


def test_narrowing_a_head_s_labels_narrows_its_prompt() -> None:
    """adapt(..., labels=[two of three]) on a head with a prompt (cultura-zh's sentiment):
    the prompt keeps the chosen labels' verbalizers and descriptions only."""
    from cultura.adapt.build import _with_labels
    from cultura.core.profile import culture

    profile = culture("zh-Hans")
    spec = profile.head("sentiment")
    assert spec.prompt is not None and "中性" in spec.prompt.descriptions
    narrowed = _with_labels(spec, ["正面", "负面"], profile)
    assert narrowed.labels == ("正面", "负面")
    assert set(narrowed.prompt.descriptions) == {"正面", "负面"}
    assert set(narrowed.prompt.verbalizers) <= {"正面", "负面"}
    assert narrowed.prompt.instruction == spec.prompt.instruction
