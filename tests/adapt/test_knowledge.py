"""Knowledge injection: character n-gram BM25 (no spaces needed), determinism, per-call top-k
and on/off, pair segments for encoders, prompt context for causal LMs, augmentation."""

from __future__ import annotations

import pytest

from cultura.adapt.knowledge import BM25Retriever, KnowledgeInjector, char_ngrams
from cultura.adapt.model import adapt
from cultura.core.errors import CulturaError
from cultura.core.types import KnowledgeEntry, KnowledgeSource

ENTRIES = (
    KnowledgeEntry("spring", "春节是农历新年，家人团聚吃年夜饭。", tags=("春节", "过年")),
    KnowledgeEntry("midautumn", "中秋节在农历八月十五，人们赏月吃月饼。", tags=("中秋",)),
    KnowledgeEntry("tea", "客人来了要先敬茶。", tags=("茶",)),
)


def test_char_ngrams_need_no_spaces() -> None:
    assert char_ngrams("春节快乐") == ["春节", "节快", "快乐", "春节快", "节快乐"]
    # spaced words: trigrams of the word padded with spaces, case-folded, punctuation dropped
    assert char_ngrams("A b, Cd!") == [" a ", " b ", " cd", "cd "]


def test_bm25_finds_the_entry_in_unspaced_text() -> None:
    retriever = BM25Retriever(ENTRIES)
    (best, score), *_ = retriever.search("今年中秋我们一起赏月", k=3)
    assert best.id == "midautumn" and score > 0
    assert retriever.search("过年回家", k=1)[0][0].id == "spring"
    assert retriever.search("完全无关的句子", k=3) == []


def test_ties_keep_entry_order_and_results_are_deterministic() -> None:
    twins = (KnowledgeEntry("a", "同样的文本"), KnowledgeEntry("b", "同样的文本"))
    retriever = BM25Retriever(twins, min_score=0.0)
    assert [e.id for e, _ in retriever.search("同样", k=2)] == ["a", "b"]
    assert retriever.search("同样", k=2) == BM25Retriever(twins, min_score=0.0).search("同样", k=2)


def injector(head_type: str = "seq-cls", **kwargs) -> KnowledgeInjector:
    source = KnowledgeSource(
        "t.fest", license="CC0-1.0", entries=ENTRIES,
        templates={"causal-lm": "背景：{knowledge}\n{text}"},
    )
    return KnowledgeInjector([(source, None)], head_type=head_type, **kwargs)


def test_injector_pairs_top_k_and_switch() -> None:
    inj = injector(top_k=1)
    out = inj.inject(["过年回家", "你好"])
    assert out.pairs == [ENTRIES[0].text, ""]
    assert [len(r) for r in out.retrieved] == [1, 0]
    two = inj.inject(["过年吃月饼"], top_k=2)
    assert {r.entry.id for r in two.retrieved[0]} == {"spring", "midautumn"}
    assert ENTRIES[0].text in two.pairs[0] and ENTRIES[1].text in two.pairs[0]
    off = inj.inject(["过年回家"], enabled=False)
    assert off.pairs is None and off.texts == ["过年回家"]
    assert inj.inject(["过年回家"], top_k=0).pairs == [""]


def test_causal_prompt_uses_the_source_template() -> None:
    out = injector("causal-lm").inject(["中秋快乐"])
    assert out.pairs is None
    assert out.texts == [f"背景：{ENTRIES[1].text}\n中秋快乐"]


def test_entries_are_normalized_once_when_indexed() -> None:
    calls = []

    def upper(texts: list[str]) -> list[str]:
        calls.append(len(texts))
        return [t.replace("春节", "春節") for t in texts]

    inj = injector(normalize=upper)
    assert calls == [len(ENTRIES) + sum(len(e.tags) for e in ENTRIES)]  # texts and tags
    assert inj.retrieve("春節")[0].entry.text.startswith("春節")


def test_custom_retriever_and_bad_retriever() -> None:
    class Fixed:
        def __init__(self, entries):
            self.entries = entries

        def search(self, query, k):
            return [(self.entries[2], 99.0)]

    source = KnowledgeSource("t.custom", license="CC0-1.0", entries=ENTRIES, retriever=Fixed)
    inj = KnowledgeInjector([(source, None)], head_type="seq-cls")
    assert inj.retrieve("anything")[0].entry.id == "tea"
    broken = KnowledgeSource("t.broken", license="CC0-1.0", entries=ENTRIES, retriever=lambda e: 1)
    with pytest.raises(CulturaError, match="t.broken.*no search"):
        KnowledgeInjector([(broken, None)], head_type="seq-cls")


def test_augment_adds_knowledge_copies() -> None:
    texts, labels = injector().augment(["过年回家", "你好"], ["正面", "中性"])
    assert texts[:2] == ["过年回家", "你好"] and labels == ["正面", "中性", "正面"]
    assert texts[2].startswith("过年回家") and ENTRIES[0].text in texts[2]


def test_injection_visible_in_encoded_input_ids(tiny, manager) -> None:
    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager, knowledge=True)
    text = "we celebrate the spring festival"
    on = model.encode([text])
    off = model.encode([text], knowledge=False)
    entry = next(e for e in model.knowledge._sources[0].entries if e.id == "spring")
    with model.tokenizer.normalized_input():
        knowledge_ids = model.tokenizer(entry.text, add_special_tokens=False)["input_ids"]
    second = [i for i, t in zip(on["input_ids"][0].tolist(), on["token_type_ids"][0].tolist(), strict=True) if t == 1]
    assert second[: len(knowledge_ids)] == knowledge_ids
    assert off["input_ids"].shape[1] < on["input_ids"].shape[1]
    assert (off["token_type_ids"] == 0).all()
    unrelated = model.encode(["服务 太 差 了"])
    assert unrelated["token_type_ids"][0].sum() == 0  # nothing injected: the text alone
