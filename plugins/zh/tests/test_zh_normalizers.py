"""Golden tests for cultura-zh's normalizers, from OpenCC's tables and CJK width rules."""

from __future__ import annotations

import pytest
from cultura_zh.normalize import fold_width

import cultura
from cultura.core.plugins import PluginManager


@pytest.fixture(scope="module")
def pm() -> PluginManager:
    return PluginManager(allowed={"zh"})


@pytest.mark.parametrize(
    ("tag", "text", "expected"),
    [
        ("zh-Hans", "臺灣的軟體", "台湾的软体"),
        ("zh", "這個問題很難", "这个问题很难"),
        ("zh-CN", "學習中文", "学习中文"),
        ("zh-Hant", "学习中文", "學習中文"),
        ("zh-TW", "软件和鼠标", "軟體和滑鼠"),  # Taiwan phrasing (s2twp)
        ("zh-TW", "出租车和视频", "計程車和影片"),
        ("zh-HK", "为什么", "為什麼"),  # HK variant characters (s2hk)
        ("zh-Hant", "为什么", "爲什麼"),  # OpenCC standard Traditional
    ],
)
def test_script_conversion(pm: PluginManager, tag: str, text: str, expected: str) -> None:
    assert cultura.culture(tag, manager=pm).normalize(text) == expected


@pytest.mark.parametrize(
    ("tag", "conversion"), [("zh", "t2s"), ("zh-Hant", "s2t"), ("zh-TW", "s2twp"), ("zh-HK", "s2hk")]
)
def test_script_id_names_the_conversion(pm: PluginManager, tag: str, conversion: str) -> None:
    """Each level's zh.script replaces the less specific ones: one conversion runs, and its
    full id names it."""
    profile = cultura.culture(tag, manager=pm)
    assert profile.normalizer_ids == ("und.nfc", "und.whitespace", f"zh.script.{conversion}", "zh.width")
    script = profile.normalizers[2]
    assert script.key == "zh.script" and script.value.variant == conversion


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),  # U+FF21.. and U+FF11.. fold to ASCII
        ("ｗｉｆｉ密码", "wifi密码"),
        ("你好,世界!", "你好，世界！"),  # ASCII punctuation after Han becomes full-width
        ("真的?好的;走吧:", "真的？好的；走吧："),
        ("3,000元", "3,000元"),  # digit grouping untouched
        ("价格是3.5元", "价格是3.5元"),
        ("hello, world!", "hello, world!"),  # no Han, no change
        ("第1,2章", "第1,2章"),
    ],
)
def test_fold_width_golden(text: str, expected: str) -> None:
    assert fold_width([text]) == [expected]


SAMPLES = ["臺灣的軟體", "ＡＢＣ，你好!", "為什麼   这样?", "", "  ", "English only", "3,000元"]


@pytest.mark.parametrize("tag", ["zh", "zh-Hant", "zh-TW", "zh-HK"])
def test_chain_is_idempotent_and_batched(pm: PluginManager, tag: str) -> None:
    profile = cultura.culture(tag, manager=pm)
    once = profile.normalize(SAMPLES)
    assert profile.normalize(once) == once
    assert once == [profile.normalize(t) for t in SAMPLES]


def test_zh_profile_has_all_content(pm: PluginManager) -> None:
    profile = cultura.culture("zh-TW", manager=pm)
    entries = profile.knowledge[0].value.resolve()
    assert len(entries) >= 25 and all(e.license == "CC-BY-4.0" for e in entries)
    assert any("農曆" in e.text for e in entries)  # converted to Traditional for zh-TW
    head = profile.head("sentiment")
    rows = head.sample_data().read_text(encoding="utf-8").splitlines()  # type: ignore[misc]
    assert len(rows) == 105 and all('"label"' in r for r in rows)
    assert len(profile.added_tokens()) > 5800


@pytest.mark.parametrize("tag", ["zh", "zh-Hant"])
def test_vocabulary_description_states_the_lists_size(pm: PluginManager, tag: str) -> None:
    """The declaration writes the character counts out; they must match the shipped lists."""
    (vocab,) = [c.value for c in cultura.culture(tag, manager=pm).vocabulary if c.key == "zh.vocab"]
    assert vocab.description.startswith(f"{len(vocab.resolve())} common ")


@pytest.mark.parametrize("tag", ["zh", "zh-Hant", "zh-TW", "zh-HK"])
def test_a_nul_neither_truncates_the_text_nor_drops_the_rest_of_the_batch(pm: PluginManager, tag: str) -> None:
    """OpenCC's multi-step profiles (s2twp, s2hk) stop at a NUL; the parts around it are
    converted separately."""
    profile = cultura.culture(tag, manager=pm)
    texts = ["软件\x00软件", "鼠标", "\x00a B"]
    out = profile.normalize(texts)
    assert len(out) == 3 and out[0].count("\x00") == 1 and out[2] == "\x00a B"
    assert out[0].split("\x00")[0] == out[0].split("\x00")[1] == profile.normalize("软件")
