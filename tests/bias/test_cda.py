"""Counterfactual data augmentation: swaps within aligned groups, of whole words only (word rules
from plugins, in the adapter's script), and it reduces the CTF gap."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest

import cultura
from cultura.bias import metrics as M
from cultura.bias.cda import CDAWarning, augment, counterfactuals, default_boundaries
from cultura.bias.engine import check_bias
from cultura.core.errors import CulturaError, PluginError, RegistrationError
from cultura.core.plugins import PluginManager, PluginWarning
from cultura.core.tags import Culture
from cultura.core.types import BiasCheck, CultureInfo, WordRules

ROOT = Path(__file__).resolve().parents[2]


def _check(groups: dict[str, tuple[str, ...]], id: str = "t.cda") -> BiasCheck:
    return BiasCheck(id, "test", "ctf_gap", 0.1, term_groups=groups,
                     templates=("{term}",), license="CC0-1.0")


GENDER = _check({"f": ("她", "女士", "she"), "m": ("他", "先生", "he")})


@pytest.fixture(scope="module")
def zh() -> Any:
    """The profile of the installed cultura-zh (bias checks, OpenCC, jieba word rules)."""
    pytest.importorskip("cultura_zh")
    profile = cultura.culture("zh", manager=PluginManager())
    if not profile.word_rules:
        pytest.skip("cultura-zh is not installed as an active plugin here")
    return profile


@pytest.fixture(scope="module")
def zh_rules(zh: Any) -> list[Any]:
    return list(zh.word_rules)


# ----------------------------------------------------------------------------- swapping
def test_two_groups_swap_both_ways_at_once(zh_rules: list[Any]) -> None:
    texts, labels = augment(["他和她是同事", "这位女士很好", "没有人"], [0, 1, 2], [GENDER],
                            rules=zh_rules)
    assert texts == ["他和她是同事", "这位女士很好", "没有人", "她和他是同事", "这位先生很好"]
    assert labels == [0, 1, 2, 0, 1]


@pytest.mark.filterwarnings("ignore::cultura.bias.cda.CDAWarning")  # GENDER's Chinese terms
def test_latin_terms_match_whole_words_only() -> None:
    assert counterfactuals("she said he was there", [GENDER]) == ["he said she was there"]
    assert counterfactuals("the shelf is theirs", [GENDER]) == []
    # the first letter's case is matched and kept; other case changes are no match
    assert counterfactuals("She said he was there", [GENDER]) == ["He said she was there"]
    assert counterfactuals("SHE said", [GENDER]) == []


def test_default_boundaries_keep_marks_and_letters_of_spaced_scripts_together() -> None:
    assert default_boundaries("a bc") == {0, 1, 2, 4}
    arabic = _check({"f": ("العمة",), "m": ("العم",)})
    assert counterfactuals("ذهب العم إلى العمل", [arabic]) == ["ذهب العمة إلى العمل"]
    hindi = _check({"f": ("बहन",), "m": ("भाई",)})  # बहनें (sisters): matras are no boundary
    assert counterfactuals("बहनें आईं, बहन आई", [hindi]) == ["बहनें आईं, भाई आई"]
    swahili = _check({"f": ("Mama",), "m": ("Baba",)})
    assert counterfactuals("mama yangu na Mamadou", [swahili]) == ["baba yangu na Mamadou"]


def test_longest_term_wins_and_aligned_index_is_kept(zh_rules: list[Any]) -> None:
    check = _check({"a": ("本地户口的人", "本地人"), "b": ("外地户口的人", "外地人")})
    assert counterfactuals("外地户口的人和本地人", [check], rules=zh_rules) == ["本地户口的人和外地人"]


def test_three_groups_rotate_each_mention_to_every_other_group(zh_rules: list[Any]) -> None:
    age = _check({"y": ("年轻人",), "m": ("中年人",), "o": ("老年人",)})
    assert counterfactuals("年轻人在学习", [age], rules=zh_rules) == ["中年人在学习", "老年人在学习"]
    # mixed mentions rotate together, so both copies keep two different groups
    assert counterfactuals("年轻人帮助老年人", [age], rules=zh_rules) == [
        "中年人帮助年轻人", "老年人帮助中年人"]


@pytest.mark.filterwarnings("ignore::cultura.bias.cda.CDAWarning")
def test_ambiguous_terms_are_not_swapped_and_existing_pairs_not_duplicated() -> None:
    check = _check({"a": ("x colleague", "friend"), "b": ("y colleague", "friend")})
    assert counterfactuals("friend came", [check]) == []
    texts, labels = augment(["x colleague came", "y colleague came"], ["pos", "pos"], [check])
    assert texts == ["x colleague came", "y colleague came"]  # each copy already there
    texts, labels = augment(["x colleague came", "y colleague came"], ["pos", "neg"], [check])
    assert texts == ["x colleague came", "y colleague came", "y colleague came", "x colleague came"]
    assert labels == ["pos", "neg", "pos", "neg"]


def test_augment_takes_profile_contributions_and_validates(zh: Any) -> None:
    texts, _ = augment(["河南人开了一家饭馆"], ["中性"], zh.bias_checks, keep_original=False,
                       profile=zh)
    assert "上海人开了一家饭馆" in texts and len(texts) == 8  # the eight other provinces
    with pytest.raises(CulturaError, match="one label per text"):
        augment(["a", "b"], [1], [GENDER])
    with pytest.raises(CulturaError, match="BiasCheck"):
        augment(["a"], [1], ["not a check"])
    with pytest.raises(CulturaError, match="WordRules"):
        augment(["a"], [1], [GENDER], rules=["not rules"])


# ----------------------------------------------------------------------------- Chinese words
#: a swap term's characters inside another word: nothing may change
INSIDE_WORDS = [
    "其他人都来了",            # 他 in 其他 (other)
    "他们会弹吉他",            # 他 in 他们 (they) and in 吉他 (guitar)
    "本市民营企业很多",        # 市民 across 本市 / 民营企业
    "上海人民广场很热闹",      # 上海人 across 上海 / 人民
    "河南人民医院在郑州",      # 河南人 across 河南 / 人民
    "中年人士越来越多",        # 中年人 across 中年 / 人士
    "本地人口增长很快",        # 本地人 across 本地 / 人口
    "外地人员要登记",          # 外地人 across 外地 / 人员
    "北京人民大学",            # 北京人 across 北京 / 人民大学
    "她们尊重他人，信奉利他主义",  # 她们, 他人, 利他主义
]


def test_zh_cda_never_changes_part_of_a_word(zh: Any) -> None:
    for text in INSIDE_WORDS:
        for copy in counterfactuals(text, zh.bias_checks, profile=zh):
            pytest.fail(f"{text!r} became {copy!r}: a swap inside a word")


def test_zh_cda_swaps_whole_words_next_to_lookalikes(zh: Any) -> None:
    gender = [c for c in zh.bias_checks if c.key == "zh.gender.ctf"]
    assert counterfactuals("其他人都说他会弹吉他", gender, profile=zh) == ["其他人都说她会弹吉他"]
    hukou = [c for c in zh.bias_checks if c.key == "zh.region.hukou.ctf"]
    assert counterfactuals("本市民营企业招聘本地人", hukou, profile=zh) == ["本市民营企业招聘外地人"]
    age = [c for c in zh.bias_checks if c.key == "zh.age.ctf"]
    assert counterfactuals("中年人士说老年人需要照顾", age, profile=zh) == [
        "中年人士说年轻人需要照顾", "中年人士说中年人需要照顾"]


def _made_by_whole_word_swaps(text: str, copy: str, bounds: set[int], terms: set[str]) -> bool:
    """Whether ``copy`` is ``text`` with some terms that start and end on ``bounds`` replaced by
    terms (a search over every such edit, independent of how cda finds them)."""
    from functools import cache

    @cache
    def fits(i: int, j: int) -> bool:
        if i == len(text):
            return j == len(copy)
        if j < len(copy) and text[i] == copy[j] and fits(i + 1, j + 1):
            return True
        return i in bounds and any(
            text.startswith(old, i) and i + len(old) in bounds and copy.startswith(new, j)
            and fits(i + len(old), j + len(new))
            for old in terms for new in terms
        )

    return fits(0, 0)


def test_zh_cda_on_a_corpus_changes_only_whole_word_terms(zh: Any) -> None:
    """Every copy is its original with whole-word terms (as jieba splits the original) swapped."""
    from cultura_zh.words import segment

    terms = {t for c in zh.bias_checks for g in c.value.term_groups.values() for t in g}
    corpus = [*INSIDE_WORDS, "他说她的女同事是河南人", "我哥哥和那个女孩是藏族朋友",
              "其他城里人和农村人都来了", "吉他手是二十多岁的人", "我妈妈说黑龙江人很好客"]
    swapped = 0
    for text in corpus:
        bounds = {0}
        for word in segment([text])[0]:
            bounds.add(max(bounds) + len(word))
        for copy in counterfactuals(text, zh.bias_checks, profile=zh):
            swapped += 1
            assert _made_by_whole_word_swaps(text, copy, bounds, terms), (text, copy)
    assert swapped >= 20  # the corpus does get swapped where it may
    # and the search does tell a swap inside a word
    assert not _made_by_whole_word_swaps("其他人", "其她人", {0, 3}, terms)


def test_zh_segmenter_keeps_the_text_and_reads_traditional_through_simplified() -> None:
    words = pytest.importorskip("cultura_zh.words")
    text = "農民工的孩子 在 Taipei\n讀書，他說：OK！"
    (split,) = words.segment([text])
    assert "".join(split) == text
    assert "農民工" in split  # jieba alone splits it 農 / 民工
    assert words.segment([]) == []


# ----------------------------------------------------------------------------- script
def test_zh_hant_adapter_matches_traditional_text(zh: Any) -> None:
    tw = cultura.culture("zh-TW", manager=PluginManager())
    assert tw.word_rules and tw.word_rules[0].level == "zh"  # inherited from zh
    checks = tw.bias_checks
    assert counterfactuals("他說她很能幹", checks, profile=tw) == ["她說他很能幹"]
    assert counterfactuals("其他人都來了", checks, profile=tw) == []
    copies = counterfactuals("農村戶口的人來應聘", checks, profile=tw)
    assert copies == ["城市戶口的人來應聘"]
    # without the profile the Simplified terms never match the Traditional text
    assert counterfactuals("農村戶口的人來應聘", checks, rules=tw.word_rules) == []
    # the terms convert the way the bias checks' texts do before the model reads them
    hukou = next(c.value for c in checks if c.key == "zh.region.hukou.ctf")
    groups = [tw.normalize(list(terms)) for terms in hukou.term_groups.values()]
    assert "農村戶口的人" in groups[1] and "城市戶口的人" in groups[0]


def test_training_passes_the_adapters_profile(zh: Any) -> None:
    """``train(..., counterfactual_augmentation=True)`` converts the terms and segments words."""
    from cultura.adapt.data import Example
    from cultura.adapt.train import _counterfactual

    tw = cultura.culture("zh-TW", manager=PluginManager())
    cm = types.SimpleNamespace(head_type="seq-cls", profile=tw, culture="zh-Hant-TW")
    examples = [Example(text="他說她很能幹", label=0), Example(text="其他人都來了", label=1)]
    out = _counterfactual(cm, examples)  # type: ignore[arg-type]
    assert [e.text for e in out] == ["他說她很能幹", "其他人都來了", "她說他很能幹"]
    assert out[-1].label == 0


def test_unsegmented_scripts_warn_and_match_only_between_punctuation() -> None:
    with pytest.warns(CDAWarning, match=r"CJK script.*profile="):
        assert counterfactuals("其他人说她很能干", [GENDER]) == []
    with pytest.warns(CDAWarning):
        assert counterfactuals("“她”，", [GENDER]) == ["“他”，"]


# ----------------------------------------------------------------------------- the hook
class _Checks:
    """Serves ``xx`` with a gender check written with spaces."""

    CULTURA_API_VERSION = "1.1"

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("xx")]

    @cultura.hookimpl
    def cultura_bias_checks(self, culture):  # type: ignore[no-untyped-def]
        return [_check({"f": ("she", "mum"), "m": ("he", "dad")}, "xx.gender")]


class _Rules:
    CULTURA_API_VERSION = "1.1"

    def __init__(self, rules: Any) -> None:
        self.rules = rules

    @cultura.hookimpl
    def cultura_cultures(self):  # type: ignore[no-untyped-def]
        return [CultureInfo("xx")]

    @cultura.hookimpl
    def cultura_word_rules(self, culture):  # type: ignore[no-untyped-def]
        if isinstance(self.rules, BaseException):
            raise self.rules
        return self.rules


def _manager(rules: Any) -> PluginManager:
    pm = PluginManager(entry_points=False, strict=False)
    pm.register(_Checks(), name="xxchecks", distribution="cultura-xxchecks", version="1.0")
    pm.register(_Rules(rules), name="xxwords", distribution="cultura-xxwords", version="2.0")
    return pm


def _raise(texts: list[str]) -> list[list[str]]:
    raise ValueError("segmenter exploded")


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        (_raise, r"segmenter of word rules 'xx\.words' raised ValueError: segmenter exploded"),
        (lambda texts: [[t] for t in texts[:-1]], r"one list of words per text"),
        (lambda texts: [[t.upper()] for t in texts], r"do not join back to the text"),
        (lambda texts: [t for t in texts], r"must be a list of strings"),
    ],
)
def test_a_broken_segmenter_is_named_with_its_plugin(segment: Any, message: str) -> None:
    pm = _manager([WordRules("xx.words", segment)])
    profile = cultura.culture("xx", manager=pm)
    with pytest.raises(PluginError, match=message) as info:
        augment(["she came"], [1], profile.bias_checks, profile=profile)
    assert info.value.plugin == "xxwords"
    assert "cultura-xxwords 2.0" in str(info.value)
    assert "CULTURA_DISABLE_PLUGINS=cultura-xxwords" in str(info.value)
    # the other plugin is untouched: without the broken one, its checks augment as usual
    pm.disable("xxwords")
    profile = cultura.culture("xx", manager=pm)
    assert augment(["she came"], [1], profile.bias_checks, profile=profile)[0] == [
        "she came", "he came"]


def test_a_broken_agreement_rule_is_named_and_a_bad_return_too() -> None:
    pm = _manager([WordRules("xx.agree", agree=lambda old, new, after: 42)])
    profile = cultura.culture("xx", manager=pm)
    with pytest.raises(PluginError, match=r"agreement rule of word rules 'xx\.agree' returned int"):
        counterfactuals("she came", profile.bias_checks, profile=profile)
    # a rule without a plugin behind it names the registration instead
    bare = WordRules("xx.bare", agree=lambda old, new, after: after.split())
    with pytest.raises(RegistrationError, match=r"WordRules\.agree.*returned list"):
        counterfactuals("she came", [_check({"f": ("she",), "m": ("he",)})], rules=[bare])


def test_a_hook_that_fails_takes_out_only_its_plugin() -> None:
    pm = _manager(RuntimeError("no rules today"))
    with pytest.warns(PluginWarning, match=r"xxwords.*cultura_word_rules\(\).*no rules today"):
        profile = cultura.culture("xx", manager=pm)
    assert [str(f.hook) for f in profile.failures] == ["cultura_word_rules"]
    assert pm.record("xxwords").status == "error" and pm.record("xxchecks").status == "active"
    assert augment(["mum came"], [1], profile.bias_checks, profile=profile)[0] == [
        "mum came", "dad came"]
    pm = _manager(["not rules"])
    with pytest.warns(PluginWarning, match=r"returned a list holding str; expected a list of WordRules"):
        cultura.culture("xx", manager=pm)


def test_word_rules_validate_their_fields() -> None:
    with pytest.raises(RegistrationError, match="segmenter, an agreement rule or both"):
        WordRules("xx.none")
    with pytest.raises(RegistrationError, match=r"WordRules\.segment.*callable"):
        WordRules("xx.words", "jieba")  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match=r"WordRules\.id"):
        WordRules("XX Words", segment=lambda t: [[x] for x in t])


# ----------------------------------------------------------------------------- Korean example
def _doc_blocks(heading: str) -> list[str]:
    """The Python blocks of docs/bias.md under the heading line ``heading`` (up to the next)."""
    doc = (ROOT / "docs" / "bias.md").read_text(encoding="utf-8")
    section = re.split(r"\n#{2,4} ", doc.split(f"{heading}\n", 1)[1], maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def _assert_stated_results(code: str, namespace: dict[str, Any], where: str) -> int:
    """Run ``code``; each ``counterfactuals(...)`` line must return what the comment line below
    it states. Returns how many were checked."""
    lines = code.splitlines()
    checked = 0
    for n, line in enumerate(lines):
        if line.startswith("counterfactuals("):
            exec(compile("\n".join(lines[:n]), where, "exec"), namespace)  # noqa: S102
            expected = eval(lines[n + 1].lstrip("# "))  # noqa: S307
            assert eval(line.split("#")[0], namespace) == expected, line  # noqa: S307
            checked += 1
    return checked


def test_the_whole_words_example_in_the_docs(zh: Any) -> None:
    (code,) = _doc_blocks("### Whole words only")
    assert _assert_stated_results(code, {}, "docs/bias.md (whole words)") == 2


def test_the_korean_particle_rules_in_the_docs() -> None:
    rules_code, usage = _doc_blocks("#### Example: Korean particles")
    namespace: dict[str, Any] = {}
    exec(compile(rules_code, "docs/bias.md (Korean rules)", "exec"), namespace)  # noqa: S102
    korean = namespace["KOREAN"]
    assert isinstance(korean, WordRules) and korean.segment and korean.agree
    check = _check({"f": ("어머니", "누나", "딸"), "m": ("아버지", "형", "아들")}, "ko.gender")

    def swap(text: str) -> list[str]:
        return counterfactuals(text, [check], rules=[korean])

    assert swap("누나는 학생이다.") == ["형은 학생이다."]           # vowel -> consonant: 는 -> 은
    assert swap("형을 만났다") == ["누나를 만났다"]                  # consonant -> vowel: 을 -> 를
    assert swap("어머니가 요리를 했다") == ["아버지가 요리를 했다"]  # both vowel-final
    assert swap("딸과 함께 갔다") == ["아들과 함께 갔다"]
    assert swap("딸로 태어났다") == ["아들로 태어났다"]              # ㄹ takes 로, like a vowel
    assert swap("형으로 태어났다") == ["누나로 태어났다"]
    assert swap("형이랑 놀았다") == ["누나랑 놀았다"]
    assert swap("누나의 책") == ["형의 책"]                          # 의 has one form
    assert swap("어머니들이 왔다") == []                             # 어머니들: another word
    assert swap("형이다") == []                                      # copula, not a particle
    # the usage block's stated results are what it returns
    assert _assert_stated_results(usage, namespace, "docs/bias.md (Korean usage)") == 2


# ----------------------------------------------------------------------------- efficacy
def test_cda_reduces_the_ctf_gap_on_a_biased_dataset(
    zh_bert_dir: Path, gender_data: tuple[list[str], list[str]], trainer: Any, zh: Any
) -> None:
    from cultura_zh.bias import bias_checks

    gender = [c for c in bias_checks(Culture.parse("zh")) if c.id == "zh.gender.ctf"]
    texts, labels = gender_data
    plain = check_bias(trainer(zh_bert_dir, texts, labels), checks=gender, progress=False)
    aug_texts, aug_labels = augment(texts, labels, gender, profile=zh)
    assert len(aug_texts) == 2 * len(texts)
    mitigated = check_bias(trainer(zh_bert_dir, aug_texts, aug_labels), checks=gender,
                           progress=False)
    before = plain.result("zh.gender.ctf").score
    after = mitigated.result("zh.gender.ctf").score
    assert before is not None and after is not None
    assert not plain.passed and before > 0.3
    assert mitigated.passed and after < before / 4
    # the score is the real CTF gap of the model's probabilities
    assert before == pytest.approx(plain.result("zh.gender.ctf").details["ctf_gap"])
    assert M.ctf_gap([[[1.0, 0.0], [0.0, 1.0]]]) == 1.0
