"""Build cultura-ja's NER sample data ``data/ner.jsonl`` (run by maintainers; ships as package data).

The sentences below were written by the cultura-ja authors for this file (CC-BY-4.0, like the
plugin's other authored data). Entities are marked inline as ``[text|type]`` with the head's
IREX-style type names: 人名 (person), 地名 (location), 組織名 (organization), 固有物名
(artifact: products, works, titles), 日付 (date), 時間 (time of day), 金額 (money), 割合
(percentage, ratio).

Each sentence becomes a row ``{"text", "tokens", "tags"}``: ``tokens`` split the text the way
``CulturalModel.predict`` splits raw text (one token per kanji or kana, a run of other
letters/digits, one punctuation mark), ``tags`` are BIO tags in the head's labels. The text is
written as the ``ja`` normalizers leave it (half-width digits, ``%``), so the tokens are also
what prediction sees after normalization.

    python plugins/ja/scripts/build_ner_sample.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "cultura_ja" / "data" / "ner.jsonl"

#: the same split as cultura.adapt.cultural_model._WORD (raw text -> words for token-cls)
_CJK_KANA_HANGUL = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
WORD = re.compile(rf"[{_CJK_KANA_HANGUL}]|[^\W{_CJK_KANA_HANGUL}]+|[^\w\s]")
MARK = re.compile(r"\[([^\[\]|]+)\|([^\[\]|]+)\]")

TYPES = ("人名", "地名", "組織名", "固有物名", "日付", "時間", "金額", "割合")

SENTENCES = (
    "[山田太郎|人名]さんは[東京|地名]に住んでいます。",
    "[田中|人名]部長は[4月1日|日付]から[大阪|地名]に転勤します。",
    "[トヨタ自動車|組織名]の売上高は前年より[5%|割合]増えた。",
    "会議は[午後3時|時間]に始まります。",
    "[京都大学|組織名]の[佐藤花子|人名]教授が講演した。",
    "この本は[1500円|金額]です。",
    "[富士山|地名]は[静岡県|地名]と[山梨県|地名]にまたがっている。",
    "[源氏物語|固有物名]は[紫式部|人名]が書いた。",
    "[日本銀行|組織名]は[3月19日|日付]に金利を引き上げた。",
    "明日の[午前7時半|時間]に[新宿駅|地名]で待ち合わせましょう。",
    "[鈴木一郎|人名]選手は[シアトル|地名]で長くプレーした。",
    "消費税率は[10%|割合]です。",
    "[ソニー|組織名]が新しい[プレイステーション|固有物名]を発表した。",
    "[12月|日付]に[北海道|地名]で大雪が降った。",
    "入場料は大人[2000円|金額]、子ども[800円|金額]です。",
    "[高橋|人名]さんとは[来週月曜日|日付]に会う予定です。",
    "[国立国会図書館|組織名]は[東京都千代田区|地名]にある。",
    "今回の選挙の投票率は[52.3%|割合]だった。",
    "[夏目漱石|人名]の[吾輩は猫である|固有物名]を読んだ。",
    "試合は[午後6時|時間]から[横浜|地名]のスタジアムで行われる。",
    "[任天堂|組織名]の本社は[京都|地名]にある。",
    "予算は約[300万円|金額]で、前年より[15%|割合]少ない。",
    "[2024年7月|日付]に[パリ|地名]でオリンピックが開かれた。",
    "[伊藤|人名]さんから[午前10時|時間]ごろ電話がありました。",
    "[トヨタ自動車|組織名]の[カローラ|固有物名]は人気の車種だ。",
    "今日はいい天気ですね。",
    "[渡辺|人名]さんは[名古屋|地名]の[中部電力|組織名]に勤めている。",
    "旅行代金の[3割|割合]を前金として払った。",
    "[15時30分|時間]発の電車に乗ります。",
    "[ファミリーコンピュータ|固有物名]は[1983年|日付]に発売された。",
    "月額[980円|金額]のプランに申し込んだ。",
    "お店は[朝9時|時間]に開きます。",
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


def row(text: str, spans: list[tuple[int, int, str]]) -> dict[str, object]:
    """``{"text", "tokens", "tags"}`` for ``text`` with BIO tags over its tokens."""
    words = list(WORD.finditer(text))
    tags = ["O"] * len(words)
    for start, end, kind in spans:
        inside = [i for i, w in enumerate(words) if start <= w.start() and w.end() <= end]
        assert inside and words[inside[0]].start() == start and words[inside[-1]].end() == end, (
            f"{text}: entity {text[start:end]!r} does not fall on token boundaries"
        )
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + kind
    return {"text": text, "tokens": [w.group() for w in words], "tags": tags}


def main() -> None:
    rows = [row(*parse(s)) for s in SENTENCES]
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {OUT}: {len(rows)} sentences")


if __name__ == "__main__":
    main()
