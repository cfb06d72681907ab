"""Build cultura-zh's NER sample data (run by maintainers; the output ships as package data).

The sentences below were written by the cultura-zh maintainers for this file (CC-BY-4.0, like
the plugin's other authored data). Entities are marked inline as ``[text|type]`` with the
head's type names: 人名 (person), 地名 (location), 机构名 (organization).

Each sentence becomes a row ``{"text", "tokens", "tags"}``: ``tokens`` split the text the way
``CulturalModel.predict`` splits raw text (one token per CJK character, a run of other
letters/digits, one punctuation mark), ``tags`` are BIO tags in the head's labels. Writes

* ``data/ner.jsonl``: Simplified (the ``zh`` head's labels: ``B-机构名`` …);
* ``data/ner_hant.jsonl``: the same sentences converted with OpenCC ``s2t`` (whole sentences,
  so phrase-level conversions apply; s2t keeps the length, so the spans stay put) and the
  Traditional labels of the ``zh-Hant`` head (``B-機構名`` …).

    python plugins/zh/scripts/build_ner_sample.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cultura_zh.normalize import opencc_convert

OUT = Path(__file__).resolve().parents[1] / "src" / "cultura_zh" / "data"

#: the same split as cultura.adapt.cultural_model._WORD (raw text -> words for token-cls)
_CJK_KANA_HANGUL = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
WORD = re.compile(rf"[{_CJK_KANA_HANGUL}]|[^\W{_CJK_KANA_HANGUL}]+|[^\w\s]")
MARK = re.compile(r"\[([^\[\]|]+)\|([^\[\]|]+)\]")

TYPES = ("人名", "地名", "机构名")
TRADITIONAL_TYPES = {"人名": "人名", "地名": "地名", "机构名": "機構名"}

SENTENCES = (
    "[张伟|人名]下周要去[上海|地名]出差。",
    "[李娜|人名]在[北京大学|机构名]读历史系。",
    "[中国国家博物馆|机构名]位于[天安门广场|地名]东侧。",
    "我和[王芳|人名]约好周末在[西湖|地名]边见面。",
    "[中国气象局|机构名]提醒[广东|地名]沿海地区注意台风。",
    "[刘洋|人名]是[华为|机构名]的软件工程师。",
    "[长江|地名]流经[重庆|地名]和[武汉|地名]。",
    "昨天[陈静|人名]带孩子去了[上海博物馆|机构名]。",
    "[清华大学|机构名]的[赵磊|人名]教授今天下午做报告。",
    "[成都|地名]的火锅很有名，[周敏|人名]每次去都要吃。",
    "[中国铁路|机构名]宣布[北京|地名]到[广州|地名]的高铁增开班次。",
    "[孙丽|人名]去年从[哈尔滨|地名]搬到了[深圳|地名]。",
    "[世界卫生组织|机构名]的专家昨晚抵达[云南|地名]。",
    "这家面馆是[黄明|人名]和朋友一起开的。",
    "[故宫博物院|机构名]每周一闭馆。",
    "[阿里巴巴|机构名]总部在[杭州|地名]，离[西溪湿地|地名]不远。",
    "[马超|人名]的父亲在[南京鼓楼医院|机构名]住院。",
    "[泰山|地名]在[山东|地名]，每年都有很多游客。",
    "[中国科学院|机构名]的研究员[吴刚|人名]获得了这个奖项。",
    "我们班的[郑小红|人名]考上了[复旦大学|机构名]。",
    "[黄河|地名]是[中国|地名]第二长的河流。",
    "据[新华社|机构名]报道，[西藏|地名]今年的游客人数创了新高。",
    "晚饭后[林涛|人名]给[何雪|人名]打了电话。",
    "[香港|地名]和[澳门|地名]之间有一座大桥。",
    "[中国银行|机构名]在[拉萨|地名]开了一家新网点。",
    "[胡军|人名]老师带学生参观了[中国美术馆|机构名]。",
    "今天天气很好，我们去公园散步吧。",
    "请大家明天早上八点准时到教室。",
)


def parse(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """The plain text of ``marked`` and its entities as (start, end, type)."""
    text, spans, pos = [], [], 0
    for match in MARK.finditer(marked):
        text.append(marked[pos:match.start()])
        start = sum(map(len, text))
        entity, kind = match.groups()
        assert kind in TYPES, f"{marked}: unknown type {kind!r}"
        text.append(entity)
        spans.append((start, start + len(entity), kind))
        pos = match.end()
    text.append(marked[pos:])
    plain = "".join(text)
    assert "[" not in plain and "]" not in plain, f"unbalanced markup: {marked}"
    return plain, spans


def row(text: str, spans: list[tuple[int, int, str]], types: dict[str, str]) -> dict[str, object]:
    """``{"text", "tokens", "tags"}`` for ``text`` with BIO tags over its tokens."""
    words = list(WORD.finditer(text))
    tags = ["O"] * len(words)
    for start, end, kind in spans:
        inside = [i for i, w in enumerate(words) if start <= w.start() and w.end() <= end]
        assert inside and words[inside[0]].start() == start and words[inside[-1]].end() == end, (
            f"{text}: entity {text[start:end]!r} does not fall on token boundaries"
        )
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + types[kind]
    return {"text": text, "tokens": [w.group() for w in words], "tags": tags}


def main() -> None:
    to_hant = opencc_convert("s2t")
    parsed = [parse(s) for s in SENTENCES]
    hans = [row(text, spans, {t: t for t in TYPES}) for text, spans in parsed]
    converted = to_hant([text for text, _ in parsed])
    hant = []
    for (text, spans), trad in zip(parsed, converted, strict=True):
        assert len(trad) == len(text), f"s2t changed the length of {text!r}: {trad!r}"
        hant.append(row(trad, spans, TRADITIONAL_TYPES))
    for name, rows in (("ner.jsonl", hans), ("ner_hant.jsonl", hant)):
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]
        (OUT / name).write_text("".join(lines), encoding="utf-8")
        print(f"wrote {OUT / name}: {len(rows)} sentences")


if __name__ == "__main__":
    main()
