"""CC-CEDICT glosses for the zh vocabulary: sense cleaning, dictionary parsing, and the
plugin's vocabulary really tries them before FVT."""

from __future__ import annotations

from cultura_zh.glosses import MAX_SENSES, clean_sense, gloss_lookup, parse_cedict

import cultura

LINES = [
    "# CC-CEDICT header",
    "好 好 [hao3] /good/appropriate; proper/all right!/",
    "王 王 [Wang2] /surname Wang/",
    "王 王 [wang2] /king or monarch/best or strongest of its type/",
    "們 们 [men5] /plural marker for pronouns/",
    "吃 吃 [chi1] /to eat; to consume/see 吃虧|吃亏[chi1 kui1]/CL:頓|顿[dun4]/",
    "not a dictionary line",
]


def test_clean_sense_keeps_the_meaning_only() -> None:
    assert clean_sense("to eat; to consume") == "eat; consume"
    assert clean_sense("the Spring Festival (Tw)") == "Spring Festival"
    assert clean_sense("surname Wang") == ""
    assert clean_sense("variant of 們|们[men5]") == ""
    assert clean_sense("CL:頓|顿[dun4]") == ""


def test_parse_prefers_common_words_and_caps_senses() -> None:
    simplified = parse_cedict(LINES)
    assert simplified["好"] == ("good", "appropriate; proper", "all right!")
    assert len(simplified["好"]) <= MAX_SENSES
    assert simplified["王"][0] == "king or monarch", "the lowercase-pinyin entry comes first"
    assert simplified["吃"] == ("eat; consume",)
    assert "们" in simplified and "們" not in simplified
    assert "們" in parse_cedict(LINES, traditional=True)


def test_the_shipped_dictionary_glosses_common_characters() -> None:
    found = gloss_lookup()(("好", "失望", "春节", "〇〇〇"))
    assert found["好"][0] == "good" and found["失望"][0] == "disappointed"
    assert "Spring Festival" in found["春节"]
    assert "〇〇〇" not in found
    assert gloss_lookup(traditional=True)(("們",)).get("們")


def test_the_zh_vocabularies_try_the_glosses_first() -> None:
    for tag in ("zh", "zh-Hant"):
        vocab = cultura.culture(tag).vocabulary[0].value
        assert [s.label for s in vocab.init_from] == ["gloss:cc-cedict"], tag
