"""Knowledge injection on realistic inputs: a relevance threshold that generic character
overlaps never reach, a token budget that never cuts the text for knowledge (pairs, word-
aligned token classification, causal prompts), off by default for encoders, the encoding
statistics, and a planted task where relevant knowledge does help."""

from __future__ import annotations

import inspect
import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import cultura
from cultura.adapt.knowledge import (
    DEFAULT_MIN_SCORE,
    MIN_KNOWLEDGE_TOKENS,
    BM25Retriever,
    EncodingStats,
    KnowledgeInjector,
)
from cultura.adapt.model import adapt, load_pretrained
from cultura.core.plugins import PluginManager, reset_plugin_manager
from cultura.core.types import AdapterHeadSpec, CultureInfo, KnowledgeEntry, KnowledgeSource

#: entries in the style of cultura-zh's knowledge: festivals, honorifics, regional wording
FESTIVALS = (
    KnowledgeEntry("spring", "春节是农历新年，是中国最重要的传统节日。人们除夕吃团圆饭、守岁，长辈给晚辈发红包，初一互相拜年。",
                   tags=("节日", "春节", "过年", "红包", "拜年", "除夕")),
    KnowledgeEntry("midautumn", "中秋节在农历八月十五，家人团聚赏月、吃月饼，圆月象征团圆。",
                   tags=("节日", "中秋节", "月饼", "赏月", "团圆")),
    KnowledgeEntry("chongyang", "重阳节在农历九月初九，有登高、赏菊的习俗，也是敬老节，人们在这一天关心和看望老人。",
                   tags=("节日", "重阳节", "敬老", "登高")),
    KnowledgeEntry("laba", "腊八节在农历十二月初八，人们喝腊八粥，民间有“过了腊八就是年”的说法。",
                   tags=("节日", "腊八", "腊八粥")),
    KnowledgeEntry("nin", "“您”是“你”的敬称，对长辈、老师、顾客和初次见面的人应当用“您”。",
                   tags=("敬语", "称呼", "您", "礼貌")),
    KnowledgeEntry("laoshi", "“老师”不仅用来称呼教师，也常用作对有学识或有专长的人的尊称。",
                   tags=("敬语", "称呼", "老师")),
    KnowledgeEntry("hongkong", "香港粤语影响下的用词：出租车叫“的士”，公交车叫“巴士”，冰箱叫“雪柜”，买单叫“埋单”。",
                   tags=("地区", "香港", "用词", "的士", "巴士")),
    KnowledgeEntry("age", "民间有“虚岁”的算法：出生时算一岁，每过一个春节加一岁，因此虚岁常比周岁大一到两岁。",
                   tags=("习俗", "年龄", "虚岁")),
    KnowledgeEntry("gifts", "送礼时忌讳送钟（谐音“送终”）、送伞（谐音“散”），也不宜把梨分开吃（“分离”）。",
                   tags=("习俗", "送礼", "禁忌", "谐音")),
    KnowledgeEntry("dining", "吃饭时不要把筷子竖插在米饭里，这像祭祀时的上香，被认为不吉利。",
                   tags=("习俗", "吃饭", "筷子", "禁忌")),
)

#: product reviews sharing only common characters (一个, 家人, 米饭, 老人, 面的, 也不, 就是 ...)
#: with the entries, and their labels
REVIEWS = (
    ("这款手机用了一个月，电池很耐用，拍照也清楚，推荐购买。", "正面"),
    ("我们一家人都很喜欢这个电饭煲，煮出来的米饭很香。", "正面"),
    ("买给老人用的，字体大，操作简单，老人很满意。", "正面"),
    ("收到的时候盒子是破的，里面的杯子也碎了，太差了。", "负面"),
    ("鞋子尺码偏小，建议大家买大一码。", "负面"),
    ("物流太慢了，等了一个星期才到，差评。", "负面"),
    ("屏幕很清晰，打游戏一点都不卡，很流畅。", "正面"),
    ("用了几天就坏了，联系卖家也不回复，很生气。", "负面"),
    ("发货速度很快，东西也是正品，好评。", "正面"),
    ("电视画面清楚，声音也好，就是遥控器有点难用。", "正面"),
    ("做工粗糙，有很大的味道，放了一个星期还有味道。", "负面"),
    ("客服态度很好，问题很快就解决了，下次还会来买。", "正面"),
    ("这家店的服务员态度很差，上菜也慢，不会再来了。", "负面"),
    ("看到评论说好才买的，结果质量很一般，感觉被骗了。", "负面"),
)

#: inputs that do mention an entry's key term, and the entry
MENTIONS = (
    ("今年过年给家里人买的年货，大家都说好吃。", "spring"),
    ("中秋节买的月饼，包装精美，送人很有面子。", "midautumn"),
    ("在香港坐的士很方便，司机也很有礼貌。", "hongkong"),
    ("老师推荐的练习册，孩子的成绩提高了。", "laoshi"),
)

#: made-up towns in a script the tiny tokenizer lacks: the model sees each as one [UNK], so
#: only the knowledge entry tells a town's region
TOWNS = ("зорвик", "кельби", "марнокс", "тепвик", "фендрал", "обриск", "юлвейн", "кастор",
         "друмхолт", "вексмур", "пилгарн", "сорвенд", "хембрикс", "жуникво", "равельк", "толбури")
REGION = {town: "北" if i % 2 == 0 else "南" for i, town in enumerate(TOWNS)}
FACTS = {
    "北": "is in the north , where people love the train and the weather is fine",
    "南": "is in the south , where the food was great and the service was slow",
}
TOWN_FACTS = tuple(KnowledgeEntry(t, f"{t} {FACTS[REGION[t]]}", tags=(t,)) for t in TOWNS)
VISITS = ("i visited {}", "we went to {} last week", "the train arrived at {}")

HEADS = (
    AdapterHeadSpec("sentiment", "seq-cls", labels=("正面", "负面")),
    AdapterHeadSpec("region", "seq-cls", labels=("北", "南")),
    AdapterHeadSpec("ner", "token-cls", labels=("O", "B-LOC", "I-LOC")),
    AdapterHeadSpec("lm", "causal-lm"),
)


def culture_with(entries: tuple[KnowledgeEntry, ...]) -> PluginManager:
    """A plugin manager with one culture (``zh``) whose knowledge is ``entries``."""
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.0", __name__="cultura_budget_test")

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="knowledge budget tests")]

    @cultura.hookimpl
    def cultura_knowledge(culture: Any) -> list[KnowledgeSource]:
        return [KnowledgeSource("budget.facts", license="CC0-1.0", entries=entries)]

    @cultura.hookimpl
    def cultura_adapter_heads(culture: Any) -> list[AdapterHeadSpec]:
        return list(HEADS)

    for hook in (cultura_cultures, cultura_knowledge, cultura_adapter_heads):
        setattr(plugin, hook.__name__, hook)
    manager = PluginManager(entry_points=False)
    assert manager.register(plugin, name="budget").status == "active"
    return manager


@pytest.fixture(scope="module")
def festivals() -> PluginManager:
    return culture_with(FESTIVALS)


@pytest.fixture(scope="module")
def towns() -> PluginManager:
    return culture_with(TOWN_FACTS)


def injector(min_score: float = DEFAULT_MIN_SCORE) -> KnowledgeInjector:
    source = KnowledgeSource("budget.facts", license="CC0-1.0", entries=FESTIVALS)
    return KnowledgeInjector([(source, None)], head_type="seq-cls", min_score=min_score)


# ------------------------------------------------------------------ relevance threshold
def test_generic_overlaps_never_retrieve_and_key_terms_do() -> None:
    reviews = [text for text, _ in REVIEWS]
    anything = injector(min_score=0.0)
    assert sum(bool(anything.retrieve(r)) for r in reviews) >= len(reviews) // 2, (
        "the reviews share n-grams with the entries: any overlap would inject"
    )
    default = injector()
    assert [default.retrieve(r) for r in reviews] == [[] for _ in reviews]
    assert default.inject(reviews).pairs == [""] * len(reviews)
    for text, entry in MENTIONS:
        assert default.retrieve(text)[0].entry.id == entry, text


def test_scores_count_distinctive_ngrams_whatever_the_corpus() -> None:
    """A tag only one entry has, mentioned once, scores tag_weight = 3 in a corpus of 2 or
    of 16 entries; one shared character pair of text scores at most 1."""
    for corpus in (TOWN_FACTS[:2], TOWN_FACTS):
        retriever = BM25Retriever(corpus)
        assert retriever.scores("зорвик")[0] == pytest.approx(3.0 + 1.0, rel=0.25)
    retriever = BM25Retriever(FESTIVALS)
    tag_only = retriever.scores("今年过年")  # 过年: a tag of "spring", not in its text
    assert tag_only[0] == pytest.approx(3.0)
    pair = retriever.scores("买给老人用")  # 老人: a character pair of one entry's text
    assert 0 < max(pair) <= 2 * 1.0 < DEFAULT_MIN_SCORE


def test_injection_on_changes_no_prediction_when_nothing_is_relevant(tiny, festivals) -> None:
    rows = [{"text": t, "label": label} for t, label in REVIEWS]
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=festivals,
                  knowledge=True)
    assert model.knowledge is not None and model.knowledge.min_score == DEFAULT_MIN_SCORE
    model.train(rows, epochs=2, lr=2e-2, batch_size=8, progress=False, seed=0)
    texts = [t for t, _ in REVIEWS]
    on, _ = model.predict_proba(texts)
    off, _ = model.predict_proba(texts, knowledge=False)
    assert np.array_equal(on, off)
    encoding = model.evaluate(rows)["encoding"]
    assert encoding["rows"] == len(rows) and encoding["knowledge_injected_rows"] == 0


# ------------------------------------------------------------------ token budget
def visit(town: str, extra: int) -> str:
    """A text of 9 + 5 * extra tiny-BERT tokens mentioning ``town``."""
    return f"i visited {town}" + " and the food was great" * extra


def encoded_rows(enc: Any) -> list[list[int]]:
    return [
        [i for i, m in zip(ids, mask, strict=True) if m]
        for ids, mask in zip(enc["input_ids"].tolist(), enc["attention_mask"].tolist(), strict=True)
    ]


def test_pair_text_is_never_cut_for_knowledge(tiny, towns) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="region", manager=towns, knowledge=True,
                  max_length=32)
    texts = [visit(TOWNS[0], extra) for extra in range(7)]
    injected, dropped, cut = 0, 0, 0
    for text in texts:
        stats = EncodingStats()
        on = model.encode([text], stats=stats)
        off = model.encode([text], knowledge=False)
        assert on["input_ids"].shape[1] <= 32
        first = [i for i, t, m in zip(on["input_ids"][0].tolist(), on["token_type_ids"][0].tolist(),
                                      on["attention_mask"][0].tolist(), strict=True) if m and t == 0]
        assert first == encoded_rows(off)[0], f"the text was cut for knowledge: {text!r}"
        text_fits = stats.truncated_rows == 0
        room = 32 - 3 - stats.text_tokens
        assert bool(stats.knowledge_rows) == (text_fits and room >= MIN_KNOWLEDGE_TOKENS)
        injected += stats.knowledge_rows
        dropped += text_fits and not stats.knowledge_rows
        cut += stats.truncated_rows
        if stats.knowledge_rows:
            assert 0 < stats.knowledge_tokens <= room
    assert injected and dropped and cut, "the texts cover all three cases"
    # one batch mixing rows with and without knowledge: each row as when encoded alone
    batch = model.encode(texts)
    assert encoded_rows(batch) == [encoded_rows(model.encode([t]))[0] for t in texts]
    assert [batch.word_ids(i) for i in range(len(texts))][0][:3] == [None, 0, 1]


def test_token_classification_keeps_every_word(tiny, towns) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="ner", manager=towns, knowledge=True,
                  max_length=32)
    words = [visit(TOWNS[1], extra).split() for extra in range(7)]
    stats = EncodingStats()
    enc = model._encode_words(words, stats=stats)
    assert stats.knowledge_rows > 0 and enc["input_ids"].shape[1] <= 32
    on = model.predict(words)
    off = model.predict(words, knowledge=False)
    for ws, with_k, without in zip(words, on, off, strict=True):
        assert [w["word"] for w in with_k["words"]] == [w["word"] for w in without["words"]]
        if len(model.tokenizer(ws, is_split_into_words=True)["input_ids"]) <= 32:
            assert len(with_k["words"]) == len(ws), "a word lost its prediction"
    examples = model.examples([{"tokens": ws, "tags": ["O"] * len(ws)} for ws in words])
    labelled = (model.collate(examples)["labels"] != -100).sum(dim=1).tolist()
    saved = model.knowledge.enabled
    model.knowledge.enabled = False
    try:
        assert labelled == (model.collate(examples)["labels"] != -100).sum(dim=1).tolist()
    finally:
        model.knowledge.enabled = saved


def test_causal_prompt_keeps_the_whole_text(tiny, towns) -> None:
    model = adapt(str(tiny["gpt2"]), culture="zh", task="lm", manager=towns, max_length=32)
    assert model.knowledge is not None, "causal LMs inject knowledge by default"
    tok = model.tokenizer
    seen = set()
    for extra in range(6):
        text = tok.normalize(visit(TOWNS[2], extra))
        stats = EncodingStats()
        on = encoded_rows(model.encode([text], stats=stats))[0]
        assert len(on) <= 32
        if stats.truncated_rows:
            assert on == encoded_rows(model.encode([text], knowledge=False))[0]
            seen.add("cut")
            continue
        assert tok.decode(on).endswith(text), "the text was cut for knowledge"
        seen.add("knowledge" if stats.knowledge_rows else "dropped")
        if stats.knowledge_rows:  # "{knowledge}\n{text}", the knowledge cut to fit
            knowledge = tok.decode(on)[: -len(text)]
            assert knowledge.endswith("\n") and TOWN_FACTS[2].text.startswith(knowledge[:-1])
    assert seen == {"knowledge", "dropped", "cut"}


# ------------------------------------------------------------------ relevant knowledge helps
def test_relevant_knowledge_helps_a_planted_task(tiny, towns) -> None:
    """The region of a town is only in its knowledge entry; train on 8 towns, evaluate on 8
    others: with injection the model reads the region, without it cannot do better than
    chance."""

    def rows(names: tuple[str, ...]) -> list[dict[str, str]]:
        return [{"text": v.format(t), "label": REGION[t]} for t in names for v in VISITS]

    train, held_out = rows(TOWNS[:8]), rows(TOWNS[8:])
    accuracy = {}
    for knowledge in (True, False):
        model = adapt(str(tiny["bert"]), culture="zh", task="region", manager=towns,
                      knowledge=knowledge, seed=0)
        model.train(train, epochs=10, lr=2e-2, batch_size=8, progress=False, seed=0)
        accuracy[knowledge] = model.evaluate(held_out)["accuracy"]
    assert accuracy[True] >= 0.9 and accuracy[False] <= 0.6
    assert accuracy[True] > accuracy[False]


# ------------------------------------------------------------------ defaults and settings
def test_defaults_off_for_encoders_on_for_causal_the_same_in_the_cli(tiny, towns) -> None:
    from cultura.adapt.cli import train

    for task, on in (("region", False), ("ner", False), ("lm", True)):
        kind = "gpt2" if task == "lm" else "bert"
        model = adapt(str(tiny[kind]), culture="zh", task=task, manager=towns)
        assert (model.knowledge is not None) is on, task
        assert model.manifest().settings["knowledge"]["enabled"] is on
    signature = inspect.signature(adapt).parameters
    options = {p.name: p for p in train.params}
    assert signature["knowledge"].default is None and options["knowledge"].default is None
    assert options["knowledge"].secondary_opts == ["--no-knowledge"]
    assert signature["knowledge_min_score"].default == options["knowledge_min_score"].default
    assert options["knowledge_min_score"].default == DEFAULT_MIN_SCORE


def test_min_score_is_recorded_and_honoured_on_load(tiny, towns, tmp_path: Path) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="region", manager=towns, knowledge=True,
                  knowledge_min_score=5.0)
    model.save_pretrained(tmp_path / "adapter")
    saved = json.loads((tmp_path / "adapter" / "cultura.json").read_text(encoding="utf-8"))
    assert saved["settings"]["knowledge"]["min_score"] == 5.0
    loaded = load_pretrained(tmp_path / "adapter", manager=towns)
    assert loaded.knowledge is not None and loaded.knowledge.min_score == 5.0
    # "зорвик" alone scores about 4 (its tag and its word in the text): under 5, no knowledge
    assert loaded.knowledge.retrieve("i visited зорвик") == []
    assert model.knowledge.retrieve("i visited зорвик") == []


def test_tokenize_report_shows_injection_and_truncation(tiny, manager, tmp_path: Path) -> None:
    text = tmp_path / "texts.txt"
    text.write_text("we celebrate the spring festival\nthe food was terrible\n"
                    + "the movie was great " * 40 + "\n", encoding="utf-8")
    reset_plugin_manager(manager)
    try:
        result = CliRunner().invoke(cultura.cli.cli, [
            "tokenize-report", "-c", "zh", "-b", str(tiny["bert"]), str(text), "--json",
            "--max-length", "64",
        ], catch_exceptions=False)
        table = CliRunner().invoke(cultura.cli.cli, [
            "tokenize-report", "-c", "zh", "-b", str(tiny["bert"]), str(text)],
            catch_exceptions=False)
    finally:
        reset_plugin_manager(None)
    assert result.exit_code == 0, result.output
    encoding = json.loads(result.stdout)["encoding"]
    assert encoding["rows"] == 3 and encoding["max_length"] == 64
    assert encoding["knowledge_injected_rows"] == 1
    assert encoding["knowledge_injected_rate"] == pytest.approx(1 / 3)
    assert encoding["knowledge_tokens_mean"] > 0
    assert encoding["text_truncated_rows"] == 1 and encoding["text_truncated_rate"] == pytest.approx(1 / 3)
    assert 0 < encoding["text_tokens_cut"] < encoding["text_tokens"]
    assert encoding["text_tokens_cut_rate"] == pytest.approx(
        encoding["text_tokens_cut"] / encoding["text_tokens"]
    )
    assert "knowledge injected into 33.3% of texts" in table.stdout
