"""Word-level figures of the tokenize report, on a tokenizer small enough to count by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cultura.adapt.tokenizer import tokenize_report, tokenize_stats
from cultura.cli import cli
from cultura.core.errors import CulturaError
from cultura.core.plugins import reset_plugin_manager

#: six words; the tokenizer knows the letters d e g h l o r w, the words good/hello/world, and
#: (after the tweaks) the culture's vocabulary (喜欢, 电影, ...) with 電 -> 电 normalized
TEXT = "hello 喜欢 電影 xyz wood! hellohello"
# before:  hello -> hello                        1 piece
#          喜欢 -> [UNK] [UNK]                   all UNK (one UNK per CJK character)
#          電影 -> [UNK] [UNK]                   all UNK
#          xyz -> [UNK]                          a lone UNK (WordPiece drops the whole word)
#          wood! -> w ##o ##o ##d [UNK]          an UNK piece, 5 pieces
#          hellohello -> hello ##h ##e ##l ##l ##o   6 pieces
# after:   喜欢 -> 喜欢, 電影 -> 电影 -> 电影 (one added token each); the rest as before


@pytest.fixture(scope="module")
def hand_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cultura.testing.models import train_wordpiece_tokenizer

    folder = tmp_path_factory.mktemp("hand-tokenizer")
    tokenizer = train_wordpiece_tokenizer(["hello world", "good"], vocab_size=24)
    assert len(tokenizer) == 24  # 5 special, 8 letters, 8 ##letters, good, hello, world
    tokenizer.save_pretrained(folder)
    return folder


def test_word_figures_before_and_after(hand_base: Path, manager) -> None:
    report = tokenize_report([TEXT], str(hand_base), "zh", manager=manager)
    assert report["max_pieces"] == 4
    expected = {
        "words": (6, 6),
        "words_with_unk": (4, 2),        # 喜欢 電影 xyz wood! -> xyz wood!
        "words_all_unk": (3, 1),         # 喜欢 電影 xyz -> xyz
        "words_over_max_pieces": (2, 2),  # wood! hellohello
        "tokens": (17, 15),
        "unk": (6, 2),
    }
    for key, (before, after) in expected.items():
        assert (report[f"{key}_before"], report[f"{key}_after"]) == (before, after), key
    assert report["word_unk_rate_before"] == pytest.approx(4 / 6)
    assert report["word_unk_rate_after"] == pytest.approx(2 / 6)
    assert report["word_all_unk_rate_before"] == pytest.approx(3 / 6)
    assert report["word_all_unk_rate_after"] == pytest.approx(1 / 6)
    assert report["word_over_max_pieces_rate_before"] == pytest.approx(2 / 6)
    # the token-level rate hides how many words are gone: 35 % of tokens, 50 % of words
    assert report["unk_rate_before"] == pytest.approx(6 / 17)
    five = tokenize_report([TEXT], str(hand_base), "zh", manager=manager, max_pieces=5)
    assert (five["words_over_max_pieces_before"], five["max_pieces"]) == (1, 5)  # hellohello


def test_words_are_counted_on_the_text_the_model_sees(hand_base: Path) -> None:
    from transformers import AutoTokenizer

    from cultura.adapt.tokenizer import wrap_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(hand_base)
    # BERT's normalizer drops the zero-width space: "helloworld" -> hello ##w ##o ##r ##l ##d
    raw = tokenize_stats(tokenizer, ["hello\u200bworld good"])
    assert (raw["words"], raw["words_over_max_pieces"], raw["tokens"]) == (2, 1, 7)
    # a culture normalizer that turns it into a space makes three one-piece words
    wrap_tokenizer(tokenizer, [lambda texts: [t.replace("\u200b", " ") for t in texts]])
    normalized = tokenize_stats(tokenizer, ["hello\u200bworld good"])
    assert (normalized["words"], normalized["words_over_max_pieces"], normalized["tokens"]) == (3, 0, 3)
    with pytest.raises(CulturaError, match="max_pieces must be a positive integer"):
        tokenize_stats(tokenizer, ["x"], max_pieces=0)


def test_cli_shows_word_figures(hand_base: Path, manager, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TEXT + "\n", encoding="utf-8")
    reset_plugin_manager(manager)
    try:
        args = ["tokenize-report", "-c", "zh", "-b", str(hand_base), str(text)]
        result = CliRunner().invoke(cli, [*args, "--max-pieces", "5", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["max_pieces"] == 5 and report["words_over_max_pieces_before"] == 1
        assert report["unk_rate_before"] == pytest.approx(6 / 17)  # the old keys stay
        table = CliRunner().invoke(cli, args, terminal_width=200).output
        assert "words lost to UNK" in table and "words in more than 4 pieces" in table
        row = next(line for line in table.splitlines() if "words with an UNK piece" in line)
        assert "66.67%" in row and "33.33%" in row
        bad = CliRunner().invoke(cli, [*args, "--max-pieces", "0"])
        assert bad.exit_code == 2 and "--max-pieces" in bad.output
    finally:
        reset_plugin_manager(None)
