"""The shared embedding table: the base rows, then a block of rows per culture's added tokens.

Two cultures that extended the vocabulary both number their new tokens from the base
vocabulary size up (``V0, V0+1, ...``), with different rows. The server keeps one embedding
table: the base rows, then a block of rows per culture (placed when the adapter is added,
released when it is removed; the table doubles when no free block is large enough); each
culture gets a lookup table mapping its token ids to the shared ids, applied to its input ids
before the forward pass (:meth:`ServedAdapter.encode <cultura.serve.adapters.ServedAdapter.encode>`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cultura.serve.adapters import ServedAdapter

__all__ = ["RowAllocator", "SharedTable"]


class RowAllocator:
    """First-fit allocation of contiguous row ranges in ``[start, start + capacity)``."""

    def __init__(self, start: int, capacity: int = 0) -> None:
        self.start = start
        self.capacity = 0
        self.free: list[tuple[int, int]] = []  # (first row, length), sorted, merged
        self.grow(capacity)

    @property
    def end(self) -> int:
        return self.start + self.capacity

    @property
    def used(self) -> int:
        return self.capacity - sum(n for _, n in self.free)

    def allocate(self, n: int) -> int | None:
        """The first row of a free block of ``n`` rows (``None`` when none is large enough)."""
        if n <= 0:
            raise ValueError(f"cannot allocate {n} rows")
        for i, (first, length) in enumerate(self.free):
            if length >= n:
                if length == n:
                    del self.free[i]
                else:
                    self.free[i] = (first + n, length - n)
                return first
        return None

    def release(self, first: int, n: int) -> None:
        """Give back ``n`` rows starting at ``first`` (merged with free neighbours)."""
        if first < self.start or first + n > self.end:
            raise ValueError(f"rows {first}..{first + n} are outside {self.start}..{self.end}")
        self.free.append((first, n))
        self.free.sort()
        merged: list[tuple[int, int]] = []
        for block in self.free:
            if merged and merged[-1][0] + merged[-1][1] > block[0]:
                raise ValueError(f"rows {block[0]}..{block[0] + block[1]} were released twice")
            if merged and merged[-1][0] + merged[-1][1] == block[0]:
                merged[-1] = (merged[-1][0], merged[-1][1] + block[1])
            else:
                merged.append(block)
        self.free = merged

    def grow(self, capacity: int) -> None:
        """Extend the region to ``capacity`` rows (new rows are free)."""
        if capacity <= self.capacity:
            return
        old_end, self.capacity = self.end, capacity
        self.release(old_end, self.end - old_end)


class SharedTable:
    """The server's embedding table, shared by every culture (see the module docstring).

    Attributes:
        embedding: the base model's input embedding module; its weight is the table.
        v0: the base vocabulary size (rows ``[0, v0)`` are the base's).
        base_rows: a copy of the base rows, as loaded.
        rows: the allocator of the added rows, from ``v0`` up.
    """

    def __init__(self, embedding: Any) -> None:
        self.embedding = embedding
        self.v0 = int(embedding.weight.shape[0])
        self.base_rows = embedding.weight[: self.v0].detach().clone()
        self.rows = RowAllocator(self.v0, 0)

    def place(self, adapter: ServedAdapter) -> bool:
        """Copy the adapter's added-token rows into the table and build its id map
        (``row_start`` and ``lut``); returns whether the table had to grow."""
        import torch

        if adapter.rows is None:
            return False
        n = int(adapter.rows.shape[0])
        start = self.rows.allocate(n)
        grew = start is None
        if start is None:
            self._grow(n)
            start = self.rows.allocate(n)
            assert start is not None
        with torch.no_grad():
            self.embedding.weight[start : start + n] = adapter.rows.to(self.embedding.weight.dtype)
        lut = torch.arange(max(adapter.token_ids) + 1, dtype=torch.long)
        lut[list(adapter.token_ids)] = torch.arange(start, start + n, dtype=torch.long)
        adapter.row_start, adapter.lut = start, lut
        return grew

    def release(self, adapter: ServedAdapter) -> None:
        """Free the adapter's rows (they are overwritten by the next adapter placed there)."""
        if adapter.row_start is not None:
            self.rows.release(adapter.row_start, len(adapter.token_ids))

    def _grow(self, need: int) -> None:
        from torch import nn

        capacity = max(self.rows.capacity * 2, self.rows.capacity + need)
        old = self.embedding.weight
        new = old.new_zeros(self.v0 + capacity, old.shape[1])
        new[: old.shape[0]] = old
        self.embedding.weight = nn.Parameter(new, requires_grad=False)
        self.embedding.num_embeddings = int(new.shape[0])
        self.rows.grow(capacity)
