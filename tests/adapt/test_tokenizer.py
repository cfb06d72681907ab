"""Tokenizer tweaks: normalizers exactly once on every encode path; vocabulary extension with
FVT initialization for tied and untied LM heads; split patterns; the tokenize report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer, pipeline

from cultura.adapt.tokenizer import (
    apply_split_patterns,
    extend_vocabulary,
    plan_vocabulary,
    tokenize_report,
    unwrap_tokenizer,
    wrap_tokenizer,
)
from cultura.core.profile import build_profile


@pytest.fixture
def wrapped(tiny, manager, log):
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    return wrap_tokenizer(tok, build_profile("zh", manager))


def test_normalizer_runs_once_per_call_on_every_encode_path(wrapped, tiny, log) -> None:
    plain = AutoTokenizer.from_pretrained(tiny["bert"])
    text, other = "我們喜歡電影", "天氣很好"
    expected = plain("我们喜欢电影")["input_ids"]
    assert plain(text)["input_ids"] != expected  # the raw text differs for the base tokenizer

    calls = [
        (lambda: wrapped(text), [text]),
        (lambda: wrapped([text, other]), [text, other]),
        (lambda: wrapped(text, other), [text, other]),
        (lambda: wrapped([text], [other]), [text, other]),
        (lambda: wrapped(list(text), is_split_into_words=True), list(text)),
        (lambda: wrapped.encode(text), [text]),
        (lambda: wrapped.tokenize(text), [text]),
        (lambda: wrapped(text_target=text), [text]),
    ]
    for call, strings in calls:
        log.reset()
        call()
        assert log.batches == [strings], "one batched call per encode, each string once"
    assert wrapped(text)["input_ids"] == expected
    assert wrapped.encode(text) == plain.encode("我们喜欢电影")
    pair = wrapped(text, other)
    assert pair["input_ids"] == plain("我们喜欢电影", "天气很好")["input_ids"]


def test_normalizer_once_in_a_pipeline(wrapped, tiny, log) -> None:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny["bert"], num_labels=2)
    clf = pipeline("text-classification", model=model, tokenizer=wrapped, device="cpu")
    log.reset()
    clf(["我們喜歡電影", "天氣很好"])
    assert log.seen("我們喜歡電影") == 1 and log.seen("天氣很好") == 1


def test_normalized_input_skips_and_wrapping_never_stacks(wrapped, manager, log) -> None:
    with wrapped.normalized_input():
        wrapped("我們")
    assert log.batches == []
    wrap_tokenizer(wrapped, build_profile("zh", manager))
    wrapped("我們")
    assert len(log.batches) == 1
    unwrap_tokenizer(wrapped)
    log.reset()
    wrapped("我們")
    assert log.batches == []


def test_wrapped_tokenizer_saves_as_its_base_class(wrapped, tmp_path: Path) -> None:
    wrapped.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert not config["tokenizer_class"].startswith("Cultural")
    assert type(AutoTokenizer.from_pretrained(tmp_path)).__name__ == config["tokenizer_class"]


def test_plan_skips_known_tokens(tiny, manager) -> None:
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    plan = plan_vocabulary(tok, build_profile("zh", manager))
    # 电影/喜欢 split into known characters, 春/节/月/饼/中秋 are unknown: all added
    assert set(plan.tokens) <= {"喜欢", "电影", "好看", "春", "节", "春节", "月饼", "中秋"}
    assert "喜欢" in plan.tokens and "春" in plan.tokens
    vocab = tok.get_vocab()
    assert all(t not in vocab for t in plan.tokens)


def test_fvt_rows_for_encoder(tiny, manager) -> None:
    tok = AutoTokenizer.from_pretrained(tiny["bert"])
    model = AutoModelForMaskedLM.from_pretrained(tiny["bert"])
    old = model.get_input_embeddings().weight.detach().clone()
    plan = plan_vocabulary(tok, build_profile("zh", manager))
    pieces = {t: tok(t, add_special_tokens=False)["input_ids"] for t in plan.tokens}
    added = extend_vocabulary(model, tok, plan)
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == added.vocab_size_after == len(tok)
    assert torch.equal(weight[: old.shape[0]], old), "old rows untouched"
    unk = tok.unk_token_id
    for token, token_id in zip(added.tokens, added.token_ids, strict=True):
        known = [p for p in pieces[token] if p != unk]
        expected = old[known].mean(0) if known else old.mean(0)
        torch.testing.assert_close(weight[token_id], expected, rtol=0, atol=1e-6)
        assert tok.tokenize(token) == [tok.convert_ids_to_tokens(token_id)]
    assert added.init_counts["fvt"] >= 1 and added.init_counts["mean"] >= 1
    # the MLM decoder is tied to the embeddings and follows the resize
    assert model.get_output_embeddings().weight.data_ptr() == weight.data_ptr()


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_fvt_rows_for_tied_and_untied_lm_heads(tiny, manager, kind: str) -> None:
    tok = AutoTokenizer.from_pretrained(tiny[kind])
    model = AutoModelForCausalLM.from_pretrained(tiny[kind])
    tied = kind == "gpt2"
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    plan = plan_vocabulary(tok, build_profile("zh", manager))
    assert plan.tokens, "byte-level BPE splits the Chinese words into several pieces"
    pieces = {t: tok(t, add_special_tokens=False)["input_ids"] for t in plan.tokens}
    added = extend_vocabulary(model, tok, plan)
    assert added.tied is tied
    w_in = model.get_input_embeddings().weight
    w_out = model.get_output_embeddings().weight
    assert (w_out.data_ptr() == w_in.data_ptr()) is tied
    assert w_out.shape[0] == w_in.shape[0] == added.vocab_size_after
    for token, token_id in zip(added.tokens, added.token_ids, strict=True):
        torch.testing.assert_close(w_in[token_id], old_in[pieces[token]].mean(0), rtol=0, atol=1e-6)
        if not tied:
            torch.testing.assert_close(
                w_out[token_id], old_out[pieces[token]].mean(0), rtol=0, atol=1e-6
            )


def test_split_patterns_isolate_matches(tiny, tmp_path: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny["gpt2"])

    def boundaries(tokens: list[str]) -> set[int]:
        out, pos = set(), 0
        for t in tokens:
            pos += len(t)
            out.add(pos)
        return out

    before = tok.tokenize("theweather")
    assert not {5, 7} <= boundaries(before)
    apply_split_patterns(tok, [r"at"])
    after = tok.tokenize("theweather")
    assert "".join(after) == "theweather" and {5, 7} <= boundaries(after)
    tok.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path).tokenize("theweather") == after


def test_tokenize_report_before_after(tiny, manager) -> None:
    texts = ["春节 月饼 中秋", "我們 喜歡 電影", "the weather is fine"]
    report = tokenize_report(texts, str(tiny["bert"]), "zh", manager=manager)
    for key in ("unk_rate_before", "unk_rate_after", "tokens_per_char_before",
                "tokens_per_char_after", "tokens_before", "tokens_after", "unk_before",
                "unk_after", "chars", "added_tokens", "lines"):
        assert key in report
    assert report["unk_before"] > 0 and report["unk_after"] == 0
    assert report["unk_rate_after"] < report["unk_rate_before"]
    assert report["tokens_per_char_after"] <= report["tokens_per_char_before"]
    assert report["chars"] == sum(len(t.replace(" ", "")) for t in texts)
    assert report["vocab_size_after"] == report["vocab_size_before"] + report["added_tokens"]
