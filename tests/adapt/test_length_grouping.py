"""Training batches group examples of similar length (less padding), and stay random."""

from __future__ import annotations

import torch

from cultura.adapt.data import Example
from cultura.adapt.train import BUCKET_CHARS, GROUP_BATCHES, LengthGroupedBatches, example_length


def _epoch(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    return list(LengthGroupedBatches(lengths, batch_size, torch.Generator().manual_seed(seed)))


def test_every_example_once_per_epoch_with_ragged_tail() -> None:
    lengths = [(i * 37) % 101 for i in range(203)]
    sampler = LengthGroupedBatches(lengths, 16, torch.Generator().manual_seed(0))
    for _ in range(3):
        batches = list(sampler)
        assert len(batches) == len(sampler) == 13
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(203))
        assert sum(1 for b in batches if len(b) != 16) == 1  # only one short batch


def test_batches_are_padded_far_less_than_random_ones() -> None:
    gen = torch.Generator().manual_seed(1)
    lengths = torch.randint(5, 300, (1024,), generator=gen).tolist()
    grouped = _epoch(lengths, 16, 0)
    shuffled = torch.randperm(1024, generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = [shuffled[k : k + 16] for k in range(0, 1024, 16)]

    def padded(batches: list[list[int]]) -> int:  # tokens a batch costs: its longest x its size
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    assert padded(grouped) < 0.75 * padded(random_batches)
    # a batch is a run of its group ordered by length bucket, longest first
    for b in grouped:
        buckets = [lengths[i] // BUCKET_CHARS for i in b]
        assert buckets == sorted(buckets, reverse=True)


def test_texts_of_one_length_bucket_are_batched_at_random() -> None:
    """Tiny data sets of short texts: batches change from epoch to epoch, as with a shuffle,
    rather than being the same length-sorted chunks every epoch."""
    lengths = [5 + i % 20 for i in range(32)]  # all in the first bucket
    sampler = LengthGroupedBatches(lengths, 4, torch.Generator().manual_seed(0))
    epochs = [{frozenset(b) for b in sampler} for _ in range(4)]
    assert len({frozenset(e) for e in epochs}) == 4
    assert all(len(e1 & e2) <= 2 for e1 in epochs for e2 in epochs if e1 is not e2)


def test_seeded_and_different_every_epoch() -> None:
    lengths = list(range(300))
    assert _epoch(lengths, 8, 3) == _epoch(lengths, 8, 3)
    sampler = LengthGroupedBatches(lengths, 8, torch.Generator().manual_seed(3))
    first, second = list(sampler), list(sampler)
    assert first != second
    assert sorted(map(tuple, first)) != sorted(map(tuple, second))  # not just reordered
    # the longest batch is not always first
    firsts = {tuple(_epoch(lengths, 8, s)[0]) for s in range(6)}
    assert len(firsts) > 1
    assert GROUP_BATCHES > 1


def test_example_length_counts_characters() -> None:
    assert example_length(Example(text="春节快乐", label=0)) == 4
    assert example_length(Example(tokens=("北京", "大学"), tags=(0, 0))) == 4
    assert example_length(Example(text=None)) == 0
