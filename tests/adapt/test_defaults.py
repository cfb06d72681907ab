"""The training defaults: one set for the Python API, the CLI and the demo; epochs chosen by
the data's size; a separate learning rate for the added vocabulary rows."""

from __future__ import annotations

import inspect

import pytest
import torch

from cultura.adapt import defaults
from cultura.adapt.defaults import MAX_EPOCHS, MIN_EPOCHS, TARGET_STEPS, auto_epochs

from .conftest import toy_sentiment


@pytest.mark.parametrize(("rows", "batch", "expected"), [
    (200, 16, 20),  # 13 steps an epoch: the cap
    (1000, 16, 5),  # 63 steps an epoch -> 315 steps
    (5000, 16, 3),  # the floor
    (1, 16, MAX_EPOCHS),
    (0, 16, MAX_EPOCHS),
    (1000, 8, 3),  # 125 steps an epoch
])
def test_auto_epochs(rows: int, batch: int, expected: int) -> None:
    assert auto_epochs(rows, batch) == expected
    assert MIN_EPOCHS <= expected <= MAX_EPOCHS
    steps = -(-max(rows, 1) // batch) * expected
    assert steps >= TARGET_STEPS or expected == MAX_EPOCHS


def test_cli_api_and_demo_share_the_defaults() -> None:
    from cultura.adapt.cli import train as train_cmd
    from cultura.adapt.cultural_model import CulturalModel
    from cultura.adapt.demo import demo
    from cultura.adapt.train import train

    expected = {"epochs": None, "lr": defaults.DEFAULT_LR, "embedding_lr": defaults.DEFAULT_EMBEDDING_LR,
                "batch_size": defaults.DEFAULT_BATCH_SIZE}
    for fn in (train, CulturalModel.train):
        params = inspect.signature(fn).parameters
        assert {k: params[k].default for k in expected} == expected, fn
    cli = {p.name: p.default for p in train_cmd.params}
    assert {k: cli[k] for k in expected} == expected
    shown = {p.name: p.default for p in demo.params}  # the demo's lr is its own: 79 rows
    assert {k: shown[k] for k in ("epochs", "batch_size")} == {k: expected[k] for k in ("epochs", "batch_size")}


def _added_rows_change(tiny, manager, embedding_lr: float | None) -> float:
    from cultura.adapt.model import adapt

    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager, seed=0)
    ids = list(model.added.token_ids)
    before = model.model.get_input_embeddings().weight[ids].detach().clone()
    history = model.train(toy_sentiment(1), epochs=2, lr=1e-3, embedding_lr=embedding_lr,
                          batch_size=4, progress=False, seed=0)
    assert len(history) == 2
    merged = model.model.get_base_model() if hasattr(model.model, "get_base_model") else model.model
    after = _rows(model, merged, ids)
    return float((after - before).norm())


def _rows(model, merged, ids):
    """The added rows as the model uses them (PEFT keeps trained rows in its own delta)."""
    emb = merged.get_input_embeddings()
    with torch.no_grad():
        return emb(torch.tensor(ids)).detach()


@pytest.mark.slow
def test_embedding_lr_moves_the_added_rows_alone(tiny, manager) -> None:
    fast = _added_rows_change(tiny, manager, embedding_lr=5e-2)
    same = _added_rows_change(tiny, manager, embedding_lr=None)  # = lr
    assert fast > 5 * same > 0


def test_embedding_lr_must_be_positive(tiny, manager) -> None:
    from cultura.adapt.model import adapt
    from cultura.core.errors import CulturaError

    model = adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager)
    with pytest.raises(CulturaError, match="embedding_lr must be positive"):
        model.train(toy_sentiment(1), embedding_lr=0.0, progress=False)
