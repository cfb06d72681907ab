"""What training reports: one line per epoch as it ends, how it ended and which epoch's weights
are kept (logger ``cultura.adapt.train``), a warning when a classifier predicts one label for
everything, and the same lines live on stderr from ``cultura train``."""

from __future__ import annotations

import json
import logging
import types
from pathlib import Path
from typing import Any

import pytest
import torch

from cultura.adapt.cultural_model import CulturalModel
from cultura.adapt.model import adapt
from cultura.adapt.train import _show_progress
from cultura.cli import main
from cultura.core.plugins import reset_plugin_manager

pytestmark = pytest.mark.slow

LOGGER = "cultura.adapt.train"


def _lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def _model(tiny: dict[str, Path], manager: Any) -> CulturalModel:
    return adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager,
                 knowledge=False)


def _trainable(model: CulturalModel) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.model.named_parameters() if p.requires_grad}


def test_one_line_per_epoch_and_the_weights_kept(tiny, manager, toy, caplog) -> None:
    model = _model(tiny, manager)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        history = model.train(toy.train, toy.eval, epochs=3, lr=2e-2, batch_size=8, seed=0)
    lines = _lines(caplog)
    assert len(lines) == 4, lines
    for epoch, (line, record) in enumerate(zip(lines, history.records, strict=False), 1):
        assert line.startswith(f"epoch {epoch}/3: loss {record.train_loss:.3f}, eval accuracy ")
        assert f"macro_f1 {record.eval['macro_f1']:.3f}" in line
        assert line.endswith(" (best)") == record.best
    assert lines[0].endswith(" (best)")
    best = history.best_epoch
    kept = "restored" if history.restored_epoch is not None else "kept"
    assert lines[-1] == (
        f"training finished after 3 epochs; {kept} the weights of epoch {best} "
        f"(eval macro_f1 {history.best_value:.3f}), the best epoch"
    )
    assert history.restored_epoch in (None, best) and not history.stopped_early
    assert set(history.as_dict()) >= {"records", "best_epoch", "restored_epoch", "stopped_early"}


def test_early_stopping_names_the_restored_epoch(tiny, manager, toy, caplog) -> None:
    """Scripted eval metrics: best at epoch 2, then two worse epochs with patience 2."""
    model = _model(tiny, manager)
    scores = iter([0.5, 0.8, 0.7, 0.6, 0.9])
    weights: list[dict[str, torch.Tensor]] = []

    def evaluate(data: Any) -> dict[str, Any]:
        weights.append(_trainable(model))
        return {"accuracy": 0.5, "macro_f1": next(scores), "loss": 1.0, "n": len(data)}

    model.evaluate = evaluate  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        history = model.train(toy.train, toy.eval, epochs=5, lr=2e-2, batch_size=8, seed=0,
                              early_stopping_patience=2)
    lines = _lines(caplog)
    assert lines[1].endswith("macro_f1 0.800 (best)")
    assert lines[3].endswith("macro_f1 0.600 (best: epoch 2)")
    assert lines[-1] == (
        "early stopping after epoch 4: no improvement for 2 epochs; restored the weights of "
        "epoch 2 (eval macro_f1 0.800)"
    )
    assert (history.stopped_early, history.best_epoch, history.restored_epoch) == (True, 2, 2)
    assert len(history) == 4
    now = _trainable(model)
    assert all(torch.equal(now[n], weights[1][n].to(now[n].device)) for n in now)
    assert not all(torch.equal(now[n], weights[3][n].to(now[n].device)) for n in now)


def test_single_label_on_the_eval_set_warns(tiny, manager, toy, caplog) -> None:
    """Trained on one label only, the model predicts it for every eval row."""
    model = _model(tiny, manager)
    only_positive = [dict(row, label="正面") for row in toy.train]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        history = model.train(only_positive, toy.eval, epochs=1, lr=2e-2, batch_size=8, seed=0)
    (warning,) = _lines(caplog, logging.WARNING)
    assert warning.startswith(
        f"the model predicted only '正面' for all {len(toy.eval)} eval rows at epoch 1: "
    )
    assert "epochs=1 now" in warning and "lr=0.02 now" in warning
    assert f"training labels: 正面 {len(toy.train)}" in warning
    assert history.records[0].single_label == "正面"


def test_single_label_on_the_training_rows_warns_without_eval(tiny, manager, toy, caplog) -> None:
    """A head biased towards one label (planted) and a learning rate too small to undo it."""
    model = _model(tiny, manager)
    (bias,) = [p for n, p in model.model.named_parameters()
               if p.requires_grad and n.endswith("bias") and p.shape == (len(model.labels),)]
    with torch.no_grad():
        bias[1] = 100.0
    with caplog.at_level(logging.INFO, logger=LOGGER):
        history = model.train(toy.train, epochs=1, lr=1e-9, batch_size=8, seed=0)
    (warning,) = _lines(caplog, logging.WARNING)
    assert warning.startswith(
        f"the model predicted only '负面' for all {len(toy.train)} training rows at epoch 1"
    )
    assert _lines(caplog)[-1] == (
        "training finished after 1 epoch; kept the weights of the last epoch (no eval data "
        "to choose the best one)"
    )
    assert history.records[0].single_label == "负面" and history.restored_epoch is None


def test_a_balanced_fit_does_not_warn(trained) -> None:
    assert all(r.single_label is None for r in trained.history.records[trained.history.best_epoch - 1:])


def test_progress_bar_only_on_a_terminal_unless_forced() -> None:
    terminal = types.SimpleNamespace(is_terminal=True, is_jupyter=False)
    log_file = types.SimpleNamespace(is_terminal=False, is_jupyter=False)
    assert _show_progress(None, terminal) and not _show_progress(None, log_file)
    assert _show_progress(True, log_file) and not _show_progress(False, terminal)


def test_cli_shows_each_epoch_as_it_ends(tiny, manager, toy, tmp_path: Path, capsys,
                                         monkeypatch) -> None:
    """The epoch lines are on stderr before the adapter is saved, with no bar in a log."""
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy.train),
                     encoding="utf-8")
    dev = tmp_path / "dev.jsonl"
    dev.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy.eval), encoding="utf-8")
    before_save: list[str] = []
    save = CulturalModel.save_pretrained

    def watched_save(self: CulturalModel, *args: Any, **kwargs: Any) -> Path:
        before_save.append(capsys.readouterr().err)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(CulturalModel, "save_pretrained", watched_save)
    reset_plugin_manager(manager)
    try:
        main(["train", str(train), "-c", "zh", "-t", "sentiment", "-b", str(tiny["bert"]),
              "-o", str(tmp_path / "out"), "--eval", str(dev), "--epochs", "2", "--lr", "2e-2",
              "--batch-size", "8", "--no-knowledge"])
    finally:
        reset_plugin_manager(None)
    (err,) = before_save
    lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "training finished after 2 epochs;" in err
    assert "\r" not in err and "━" not in err, "no progress bar when stderr is not a terminal"
    assert "saved CulturalModel(" in capsys.readouterr().out
    assert not logging.getLogger(LOGGER).handlers, "the CLI removes its handler"
