"""Embedding initialization that carries meaning: glosses, decomposition and transliteration
sources tried in order, FVT, then the mean of a word's new character rows ("overlap"), then
the vocabulary mean; the counts per kind are what the adapter records."""

from __future__ import annotations

import types
from typing import Any

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

import cultura
from cultura.adapt.tokenizer import extend_vocabulary, plan_vocabulary
from cultura.core.errors import PluginError, RegistrationError
from cultura.core.plugins import PluginManager
from cultura.core.profile import build_profile
from cultura.core.types import CultureInfo, EmbeddingSource, TokenizerTweaks, VocabularyExtension

#: tokens the tiny BERT tokenizer does not know as single tokens
GLOSSED, DECOMPOSED, BARE, WORD = "春", "节", "饼", "春节"
GLOSSES = {GLOSSED: ("spring season", "the spring festival"), "饼": ()}


def _manager(sources: tuple[EmbeddingSource, ...], tokens: tuple[str, ...]) -> PluginManager:
    plugin = types.SimpleNamespace(CULTURA_API_VERSION="1.0", __name__="cultura_glossculture")

    @cultura.hookimpl
    def cultura_cultures() -> list[CultureInfo]:
        return [CultureInfo("zh", description="gloss test culture")]

    @cultura.hookimpl
    def cultura_tokenizer_tweaks(culture: Any) -> TokenizerTweaks:
        return TokenizerTweaks(vocabulary=(VocabularyExtension("g.vocab", tokens, init_from=sources),))

    plugin.cultura_cultures = cultura_cultures
    plugin.cultura_tokenizer_tweaks = cultura_tokenizer_tweaks
    pm = PluginManager(entry_points=False)
    record = pm.register(plugin, name="glossculture")
    assert record.status == "active", record.error
    return pm


def _rows(tok: Any, weight: torch.Tensor, text: str) -> torch.Tensor:
    ids = [i for i in tok(text, add_special_tokens=False)["input_ids"] if i != tok.unk_token_id]
    assert ids, f"the tiny tokenizer knows none of {text!r}"
    return weight[ids].mean(0)


def test_sources_in_order_then_fvt_overlap_and_mean(tiny) -> None:
    glosses = EmbeddingSource("dict", "gloss", lambda tokens: {t: GLOSSES[t] for t in tokens if t in GLOSSES})
    jamo = EmbeddingSource(
        "parts", "decomposition", lambda tokens: {t: "movie" for t in tokens if t in (GLOSSED, DECOMPOSED)}
    )
    pm = _manager((glosses, jamo), (GLOSSED, DECOMPOSED, BARE, WORD, "电影"))
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    model = AutoModelForMaskedLM.from_pretrained(tiny["bert"])
    old = model.get_input_embeddings().weight.detach().clone()

    plan = plan_vocabulary(tok, build_profile("zh", pm))
    how = dict(zip(plan.tokens, plan.init, strict=True))
    assert how[GLOSSED] == "gloss:dict", "the first source that covers a token wins"
    assert how[DECOMPOSED] == "decomposition:parts"
    assert how[BARE] == "fvt", "an empty gloss list is no gloss"
    added = extend_vocabulary(model, tok, plan)
    weight = model.get_input_embeddings().weight
    row = dict(zip(added.tokens, added.token_ids, strict=True))

    # senses weighted 1, 1/2 by rank
    expected = (_rows(tok, old, "spring season") + 0.5 * _rows(tok, old, "the spring festival")) / 1.5
    torch.testing.assert_close(weight[row[GLOSSED]], expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(weight[row[DECOMPOSED]], _rows(tok, old, "movie"), rtol=0, atol=1e-6)
    # the word's characters are new rows with a recipe: the word starts at their mean
    torch.testing.assert_close(
        weight[row[WORD]], (weight[row[GLOSSED]] + weight[row[DECOMPOSED]]) / 2, rtol=0, atol=1e-6
    )
    torch.testing.assert_close(weight[row[BARE]], old.mean(0), rtol=0, atol=1e-6)
    assert added.init_counts == {"gloss:dict": 1, "decomposition:parts": 1, "overlap": 1, "mean": 1, "fvt": 1}
    assert torch.equal(weight[: old.shape[0]], old), "old rows untouched"


def test_sourced_rows_differ_where_fvt_gave_the_mean(tiny) -> None:
    """The failure this fixes: characters the base only knows as [UNK] all started equal."""
    chars = ("春", "节", "饼", "秋")
    meanings = {"春": "spring", "节": "festival", "饼": "cake", "秋": "autumn"}
    pm = _manager((EmbeddingSource("d", "gloss", lambda ts: {t: meanings[t] for t in ts}),), chars)
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    model = AutoModelForMaskedLM.from_pretrained(tiny["bert"])
    added = extend_vocabulary(model, tok, plan_vocabulary(tok, build_profile("zh", pm)))
    rows = model.get_input_embeddings().weight[list(added.token_ids)]
    assert added.init_counts == {"gloss:d": len(chars)}
    assert torch.cdist(rows, rows).fill_diagonal_(1.0).min() > 1e-3, "no two rows start equal"


def test_a_failing_lookup_names_the_plugin_and_the_source(tiny) -> None:
    def broken(tokens: tuple[str, ...]) -> dict[str, str]:
        raise KeyError("dictionary file missing")

    pm = _manager((EmbeddingSource("dict", "gloss", broken),), (GLOSSED,))
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    with pytest.raises(PluginError, match=r"glossculture.*'gloss:dict'.*dictionary file missing"):
        plan_vocabulary(tok, build_profile("zh", pm))


@pytest.mark.parametrize(
    ("answer", "match"),
    [(["spring"], "not a mapping"), ({GLOSSED: 3}, "not a text or a list of texts"),
     ({GLOSSED: [b"spring"]}, "not a text or a list of texts")],
)
def test_a_lying_lookup_is_refused_with_the_source_named(tiny, answer: object, match: str) -> None:
    pm = _manager((EmbeddingSource("dict", "gloss", lambda tokens: answer),), (GLOSSED,))
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    with pytest.raises(PluginError, match=match):
        plan_vocabulary(tok, build_profile("zh", pm))


def test_embedding_source_fields_are_checked() -> None:
    with pytest.raises(RegistrationError, match="kind"):
        EmbeddingSource("dict", "translation", dict)
    with pytest.raises(RegistrationError, match="lookup"):
        EmbeddingSource("dict", "gloss", {"春": "spring"})  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="init_from"):
        VocabularyExtension("v", ("春",), init_from=("cc-cedict",))  # type: ignore[arg-type]
    assert EmbeddingSource("cc-cedict", "gloss", dict).label == "gloss:cc-cedict"


def test_hangul_sources_cover_syllables_and_words_only() -> None:
    from cultura.core.embedding_sources import hangul_jamo, hangul_romanization

    rr = hangul_romanization()
    assert rr.label == "transliteration:hangul-rr"
    assert rr.texts(["한국", "사랑", "감사", "값", "abc", "한a", "ㄱ"]) == {
        "한국": ("hanguk",), "사랑": ("sarang",), "감사": ("gamsa",), "값": ("gap",)
    }
    jamo = hangul_jamo()
    assert jamo.label == "decomposition:hangul-jamo"
    assert jamo.texts(["한", "글", "가", "힣"]) == {"한": ("ㅎㅏㄴ",), "글": ("ㄱㅡㄹ",), "가": ("ㄱㅏ",), "힣": ("ㅎㅣㅎ",)}


def test_hangul_romanization_gives_distinct_rows_where_fvt_gave_unk(tiny) -> None:
    """Syllables the tiny English tokenizer only knows as [UNK] start at their romanization."""
    from cultura.core.embedding_sources import hangul_romanization

    syllables = ("사", "랑", "한", "국")
    pm = _manager((hangul_romanization(),), syllables)
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    model = AutoModelForMaskedLM.from_pretrained(tiny["bert"])
    added = extend_vocabulary(model, tok, plan_vocabulary(tok, build_profile("zh", pm)))
    assert added.init_counts == {"transliteration:hangul-rr": len(syllables)}
    rows = model.get_input_embeddings().weight[list(added.token_ids)]
    assert torch.cdist(rows, rows).fill_diagonal_(1.0).min() > 1e-3
