"""Tiny models and tokenizers built from configs, for tests that must run real models offline.

Tokenizers are trained on a small built-in corpus (English plus a little Chinese) at test
time; models are randomly initialized from tiny configs with a fixed seed and saved as
safetensors, so ``from_pretrained(directory)`` exercises the real loading code.

>>> from cultura.testing.models import build_tiny_model
>>> path = build_tiny_model("bert", tmp_path)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

Kind = Literal["bert", "gpt2", "llama"]
#: see :func:`tiny_config`
TINY_INITIALIZER_RANGE = 0.2
KINDS: tuple[str, ...] = ("bert", "gpt2", "llama")

#: A small mixed corpus. Deliberately misses most Chinese characters, like English-centric
#: vocabularies do, so vocabulary extension has something to add.
CORPUS: tuple[str, ...] = (
    "the movie was great and i loved it",
    "the food was terrible and the service was slow",
    "it was an ordinary day with nothing special",
    "she is a doctor and he is a nurse",
    "people from the north and the south work together",
    "this product is excellent, i would buy it again",
    "what a waste of money, never again",
    "the weather is fine today",
    "we celebrate the spring festival with family",
    "the train arrived on time at the station",
    "我们 喜欢 这个 电影",
    "今天 天气 很 好",
    "服务 太 差 了",
    "一 二 三 四 五 六 七 八 九 十",
)


def corpus(repeat: int = 20) -> list[str]:
    """The built-in corpus, repeated so small vocabularies still see every word."""
    return list(CORPUS) * repeat


def train_wordpiece_tokenizer(
    texts: Iterable[str] | None = None, *, vocab_size: int = 400
):  # type: ignore[no-untyped-def]
    """A BERT-style (uncased WordPiece, CJK characters split) fast tokenizer.

    The vocabulary is learned from ``texts`` deterministically (tokenizers' WordPiece trainer
    breaks ties differently from run to run): every character, as a word start and as a
    ``##`` continuation, then the most frequent whole words up to ``vocab_size``.
    """
    from collections import Counter

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in list(texts) if texts is not None else corpus():
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            words[word] += 1
    chars = sorted({c for word in words for c in word})
    pieces = special + chars + [f"##{c}" for c in chars]
    ranked = sorted((w for w in words if len(w) > 1), key=lambda w: (-words[w], w))
    pieces += ranked[: max(0, vocab_size - len(pieces))]
    tok = Tokenizer(models.WordPiece({p: i for i, p in enumerate(pieces)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    from tokenizers import decoders

    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def train_bpe_tokenizer(
    texts: Iterable[str] | None = None, *, vocab_size: int = 400
):  # type: ignore[no-untyped-def]
    """A GPT-2-style byte-level BPE fast tokenizer (no UNK: every byte is a token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(texts) if texts is not None else corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<pad>",
        model_max_length=128,
    )


def tiny_config(  # type: ignore[no-untyped-def]
    kind: Kind, vocab_size: int, *, pad_token_id: int = 0, bos_token_id: int = 0,
    eos_token_id: int = 0, initializer_range: float = TINY_INITIALIZER_RANGE,
):
    """A tiny config of ``kind`` (hidden size 32, 2 layers).

    ``initializer_range`` (default 0.2, ten times the architectures' 0.02): with hidden size
    32 and 0.02, a random model maps most inputs to nearly the same representation and small
    training tests learn nothing in a few steps; larger initial weights keep inputs apart.
    """
    config = _tiny_config(kind, vocab_size, pad_token_id, bos_token_id, eos_token_id)
    config.initializer_range = initializer_range
    return config


def _tiny_config(  # type: ignore[no-untyped-def]
    kind: Kind, vocab_size: int, pad_token_id: int, bos_token_id: int, eos_token_id: int
):
    from transformers import BertConfig, GPT2Config, LlamaConfig

    if kind == "bert":
        return BertConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
            pad_token_id=pad_token_id,
        )
    if kind == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=128,
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
        )
    if kind == "llama":
        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=128,
            tie_word_embeddings=False,
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
        )
    raise ValueError(f"unknown tiny model kind {kind!r}; use one of {KINDS}")


def build_tiny_model(
    kind: Kind,
    directory: str | Path,
    *,
    texts: Sequence[str] | None = None,
    vocab_size: int = 400,
    seed: int = 0,
    initializer_range: float = TINY_INITIALIZER_RANGE,
) -> Path:
    """Train a tokenizer, build a tiny random model of ``kind`` and save both to ``directory``.

    ``bert`` is saved as ``BertForMaskedLM`` (so it loads as an MLM, an encoder or a
    classifier); ``gpt2`` and ``llama`` as causal LMs. Returns the directory.
    ``initializer_range``: see :func:`tiny_config`.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "bert":
        tokenizer = train_wordpiece_tokenizer(texts, vocab_size=vocab_size)
    else:
        tokenizer = train_bpe_tokenizer(texts, vocab_size=vocab_size)
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    config = tiny_config(
        kind, len(tokenizer), pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id or tokenizer.cls_token_id or 0, eos_token_id=eos,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    auto = AutoModelForMaskedLM if kind == "bert" else AutoModelForCausalLM
    model = auto.from_config(config)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
