"""Adversarial training (FGM, PGD on the input embeddings' output) and perturbation
augmentation: what ``train(adversarial=..., perturbation_augmentation=...)`` and ``cultura train
--adversarial`` do, on a tiny BERT with added vocabulary rows and LoRA."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cultura.adapt.adversarial import FGM, PGD, make_adversary, perturbation_augment
from cultura.cli import cli, main
from cultura.core.errors import CulturaError
from cultura.core.plugins import PluginManager, reset_plugin_manager
from cultura.core.types import Perturbation

from .conftest import CallLog, make_plugin, toy_sentiment

#: Simplified -> Traditional: what the test culture's normalizer undoes (a copy adds nothing)
S2T = str.maketrans({"电": "電", "欢": "歡", "们": "們"})
FLIPPED = {"the": "teh", "food": "fodo", "great": "graet", "terrible": "terribel"}


def _typo(text: str, rng: random.Random) -> str:
    return " ".join(FLIPPED.get(w, w) if rng.random() < 0.5 else w for w in text.split(" "))


@pytest.fixture(scope="module")
def perturbing_manager() -> PluginManager:
    """The test culture of conftest, with three perturbations: upper case (changes the
    English texts), Traditional script (undone by the culture's normalizer) and seeded typos."""
    plugin = make_plugin(CallLog())
    plugin.CULTURA_API_VERSION = "1.2"

    def cultura_perturbations(culture: Any) -> list[Perturbation]:
        return [
            Perturbation("test.upper", str.upper, "upper case", kind="casing"),
            Perturbation("test.hant", lambda t: t.translate(S2T), "Traditional", kind="script"),
            Perturbation("test.typo", _typo, "typos", kind="typo", seeded=True, rate=0.5),
        ]

    import cultura

    plugin.cultura_perturbations = cultura.hookimpl(cultura_perturbations)
    pm = PluginManager(entry_points=False)
    record = pm.register(plugin, name="testperturb", distribution="cultura-testperturb",
                         version="0.1.0")
    assert record.status == "active", record.error
    return pm


def _model(tiny: dict[str, Path], manager: PluginManager, **kw: Any) -> Any:
    from cultura.adapt.model import adapt

    return adapt(str(tiny["bert"]), culture="zh", task="sentiment", manager=manager, seed=0, **kw)


def _trainable(cm: Any) -> dict[str, Any]:
    return {n: p.detach().clone() for n, p in cm.model.named_parameters() if p.requires_grad}


def _batch(cm: Any) -> dict[str, Any]:
    return cm.collate(cm.examples(toy_sentiment(1)))


def _accelerator() -> Any:
    """A float32 ``Accelerator`` as ``train`` makes one (no mixed precision)."""
    import torch

    from cultura.adapt.train import _accelerator as make

    return make(1, torch.float32)


def _grads(cm: Any) -> dict[str, Any]:
    return {n: p.grad.detach().clone() for n, p in cm.model.named_parameters()
            if p.requires_grad and p.grad is not None}


def _plain_grads(cm: Any, batch: dict[str, Any]) -> dict[str, Any]:
    cm.model.zero_grad()
    cm.model(**batch).loss.backward()
    grads = _grads(cm)
    cm.model.zero_grad()
    return grads


# ---------------------------------------------------------------------- the perturbation
@pytest.mark.parametrize("grad_accum", [1, 2])
def test_epsilon_zero_is_plain_training(tiny, manager, grad_accum: int) -> None:
    """With dropout on, FGM and PGD at epsilon 0 run every extra pass and still train as plain
    training: bit for bit without gradient accumulation (the half-weight sum of two equal
    gradients is the gradient, and the clean pass's random state, its dropout masks, is
    replayed); with it, up to the rounding of the order gradients are summed in (a + b/2 + b/2
    is not always a + b)."""
    import torch

    runs = {}
    for name, options in {"plain": {}, "fgm": {"adversarial": "fgm"},
                          "pgd": {"adversarial": "pgd", "pgd_steps": 2}}.items():
        if options:
            options["adversarial_epsilon"] = 0.0
        cm = _model(tiny, manager)
        history = cm.train(toy_sentiment(2), epochs=2, lr=1e-2, batch_size=8,
                           grad_accum=grad_accum, progress=False, seed=3, **options)
        runs[name] = (history.train_losses, _trainable(cm))
    plain_losses, plain = runs["plain"]
    for name in ("fgm", "pgd"):
        losses, params = runs[name]
        if grad_accum == 1:
            assert losses == plain_losses, name
            assert all(torch.equal(params[n], plain[n]) for n in plain), name
        else:
            # (the weights are not compared: Adam turns the rounding of a gradient entry
            # near zero into a step of its full size)
            assert losses == pytest.approx(plain_losses, rel=1e-5), name


def test_epsilon_zero_moves_nothing_but_a_positive_one_does(tiny, manager) -> None:
    """The check above would pass for a perturbation that is never applied; this one fails
    for it: at epsilon 1 the gradient differs from plain training's, and the perturbation
    FGM found raises the loss (it points uphill)."""
    import torch

    cm = _model(tiny, manager)
    cm.model.eval()  # no dropout: the losses compare the same network
    batch = _batch(cm)
    plain = _plain_grads(cm, batch)
    accelerator = _accelerator()
    for adversary in (FGM(0.0), FGM(1.0), PGD(1.0, steps=3)):
        adversary.attach(cm.model)
        try:
            cm.model.zero_grad()
            out = adversary.step(cm.model, batch, accelerator)
            grads = _grads(cm)
            same = all(torch.allclose(grads[n], plain[n], atol=1e-7) for n in plain)
            assert same == (adversary.epsilon == 0), adversary.settings()
            if adversary.epsilon:
                with torch.no_grad(), adversary.perturbing(adversary.delta):
                    attacked = cm.model(**batch).loss
                    with adversary.perturbing(-adversary.delta):
                        helped = cm.model(**batch).loss
                assert attacked > out.loss.detach() > helped, adversary.settings()
        finally:
            adversary.detach()
            cm.model.zero_grad()


def test_the_embedding_weights_are_never_written_and_the_hook_goes(tiny, manager) -> None:
    """The perturbation is added to the embeddings' output: the embedding module's weights
    (base rows and the added vocabulary rows) are the same after a step, its output on the
    batch is the clean one again, and no hook is left after ``detach`` or after ``train``."""
    import torch

    cm = _model(tiny, manager)
    embeddings = cm.model.get_input_embeddings()
    before = {k: v.clone() for k, v in embeddings.state_dict().items()}
    assert any("trainable_tokens" in k for k in before), "added rows are trained"
    batch = _batch(cm)
    with torch.no_grad():
        clean_output = embeddings(batch["input_ids"])
    hooks = len(embeddings._forward_hooks)
    adversary = PGD(2.0, steps=2)
    adversary.attach(cm.model)
    assert len(embeddings._forward_hooks) == hooks + 1
    adversary.step(cm.model, batch, _accelerator())
    adversary.detach()
    after = embeddings.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with torch.no_grad():
        assert torch.equal(embeddings(batch["input_ids"]), clean_output)
    assert len(embeddings._forward_hooks) == hooks
    cm.model.zero_grad()

    cm.train(toy_sentiment(1), epochs=1, batch_size=8, progress=False, adversarial="fgm")
    assert len(cm.model.get_input_embeddings()._forward_hooks) == hooks


def test_perturbations_stay_in_the_epsilon_ball_and_off_the_padding(tiny, manager) -> None:
    cm = _model(tiny, manager)
    batch = _batch(cm)
    padding = batch["attention_mask"] == 0
    assert padding.any(), "the toy batch has padding"
    accelerator = _accelerator()
    for adversary, exact in ((FGM(0.7), True), (PGD(0.7, steps=4), False),
                             (PGD(0.7, steps=3, alpha=0.05), False)):
        adversary.attach(cm.model)
        try:
            adversary.step(cm.model, batch, accelerator)
        finally:
            adversary.detach()
            cm.model.zero_grad()
        delta = adversary.delta
        norms = delta.flatten(1).norm(dim=1)
        assert bool((norms <= 0.7 * (1 + 1e-5)).all()), adversary.settings()
        if exact:  # FGM: one step of length epsilon
            assert all(math.isclose(float(n), 0.7, rel_tol=1e-5) for n in norms)
        assert float(delta[padding].abs().max()) == 0.0
    # small PGD steps: 3 x 0.05 cannot reach the boundary, so the projection is not all it does
    assert float(norms.max()) <= 0.15 + 1e-6


def test_mixed_precision_bf16_with_lora_and_added_rows(tiny, manager) -> None:
    """A bfloat16 model trains adversarially in mixed precision: finite losses, the trained
    weights back in bfloat16, the settings in the history and the manifest summary."""
    import torch

    cm = _model(tiny, manager, dtype="bfloat16")
    history = cm.train(toy_sentiment(1), epochs=2, lr=1e-2, batch_size=8, progress=False,
                       adversarial="pgd", adversarial_epsilon=0.5, pgd_steps=2)
    assert all(math.isfinite(x) for x in history.train_losses)
    assert {p.dtype for p in cm.model.parameters()} == {torch.bfloat16}
    assert history.adversarial == {"method": "pgd", "epsilon": 0.5, "steps": 2,
                                   "alpha": 2.5 * 0.5 / 2}
    assert cm.training_summary["adversarial"] == history.adversarial
    assert cm.training_summary["perturbation_augmentation"] is None


# ---------------------------------------------------------------------- augmentation
def test_augmentation_adds_perturbed_copies_with_their_labels(tiny, perturbing_manager) -> None:
    cm = _model(tiny, perturbing_manager)
    examples = cm.examples(toy_sentiment(1))
    out, record = perturbation_augment(cm, examples, seed=5)
    assert out[: len(examples)] == examples
    copies = out[len(examples):]
    by_id = {r["id"]: r for r in record["perturbations"]}
    assert by_id["test.hant"]["copies"] == 0, "the normalizer undoes Traditional: no copies"
    english = [e for e in examples if e.text != e.text.upper()]
    assert by_id["test.upper"]["copies"] == len(english)
    assert by_id["test.upper"]["source"].startswith("cultura-testperturb")
    assert record["added"] == len(copies) == sum(r["copies"] for r in record["perturbations"])
    assert record["seed"] == 5
    original = {e.where: e for e in examples}
    for copy in copies:
        where, pid = copy.where.rsplit(" (", 1)
        source = original[where]
        assert copy.label == source.label and copy.text != source.text
        if pid == "test.upper)":
            assert copy.text == source.text.upper()
    again, _ = perturbation_augment(cm, examples, seed=5)
    assert again == out, "seeded: the same copies"
    other, _ = perturbation_augment(cm, examples, seed=6)
    assert other != out, "another seed, other typos"
    only, record = perturbation_augment(cm, examples, ["test.upper"], seed=5)
    assert [r["id"] for r in record["perturbations"]] == ["test.upper"]
    assert len(only) == len(examples) + len(english)


def test_a_hanging_perturbation_is_stopped_and_named_not_waited_for(
    tiny, perturbing_manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Perturbations are plugin code: augmentation runs them under the plugin time limit, as
    cultura robustness does, and names the one that hung."""
    import threading

    from cultura.core.perturb import PerturbationFailure

    release = threading.Event()

    def hangs(text: str) -> str:
        release.wait(30)
        return text

    import dataclasses

    from cultura.core.profile import Contribution

    cm = _model(tiny, perturbing_manager)
    monkeypatch.setenv("CULTURA_PLUGIN_TIMEOUT", "0.5")
    hung = Perturbation("test.hangs", hangs, "never returns", kind="casing")
    given = cm.profile.perturbations[0]
    cm.profile = dataclasses.replace(cm.profile, perturbations=(
        Contribution("test.hangs", hung, given.provenance, given.level),))
    try:
        with pytest.raises(PerturbationFailure, match=r"'test.hangs'.*within 0.5 s"):
            perturbation_augment(cm, cm.examples(toy_sentiment(1)))
    finally:
        release.set()


def test_train_with_augmentation_records_it(tiny, perturbing_manager, tmp_path: Path) -> None:
    from cultura.adapt.artifact import read_manifest

    cm = _model(tiny, perturbing_manager)
    rows = toy_sentiment(1)
    history = cm.train(rows, epochs=1, batch_size=8, progress=False,
                       perturbation_augmentation=["test.upper", "test.typo"], seed=2)
    record = history.perturbation_augmentation
    assert record is not None and record["seed"] == 2
    assert history.train_examples == len(rows) + record["added"] > len(rows)
    cm.save_pretrained(tmp_path / "a")
    training = read_manifest(tmp_path / "a").training
    assert training["perturbation_augmentation"] == record
    assert training["adversarial"] is None


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(("args", "message"), [
    (("sgd",), "is not a method"),
    (("fgm", -1.0), ">= 0"),
    (("fgm", float("nan")), "finite"),
    (("pgd", 1.0, 0), "positive integer"),
    (("fgm", 1.0, 3), "pgd_steps applies to adversarial='pgd'"),
    ((None, 0.5), "adversarial_epsilon is set but adversarial is not"),
    ((None, None, 2), "pgd_steps is set"),
])
def test_bad_adversarial_values_are_clear_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(CulturaError, match=message):
        make_adversary(*args)


def test_bad_augmentation_values_are_clear_errors(tiny, manager, perturbing_manager) -> None:
    cm = _model(tiny, perturbing_manager)
    examples = cm.examples(toy_sentiment(1))
    with pytest.raises(CulturaError, match=r"no perturbation 'test\.nope'.*test\.upper"):
        perturbation_augment(cm, examples, ["test.nope"])
    with pytest.raises(CulturaError, match="non-empty list"):
        perturbation_augment(cm, examples, "test.upper")
    bare = _model(tiny, manager)  # the culture of conftest's manager gives no perturbations
    with pytest.raises(CulturaError, match="needs perturbations for culture zh"):
        bare.train(toy_sentiment(1), epochs=1, progress=False, perturbation_augmentation=True)
    from cultura.adapt.model import adapt

    ner = adapt(str(tiny["bert"]), culture="zh", task="ner", manager=perturbing_manager)
    with pytest.raises(CulturaError, match="not supported for token-cls"):
        perturbation_augment(ner, [], True)


# ---------------------------------------------------------------------- the command line
@pytest.fixture
def with_perturbing_plugin(perturbing_manager):
    reset_plugin_manager(perturbing_manager)
    yield perturbing_manager
    reset_plugin_manager(None)


def test_cli_flags_reach_training_and_the_manifest(tiny, with_perturbing_plugin,
                                                    tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in toy_sentiment(1)),
                    encoding="utf-8")
    out = tmp_path / "adapter"
    result = CliRunner().invoke(cli, [
        "train", str(data), "-c", "zh", "-t", "sentiment", "-b", str(tiny["bert"]), "-o", str(out),
        "--epochs", "1", "--batch-size", "8", "--adversarial", "pgd", "--adv-epsilon", "0.25",
        "--pgd-steps", "2", "--perturbation-augmentation", "--json",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    history = json.loads(result.stdout)["history"]
    assert history["adversarial"] == {"method": "pgd", "epsilon": 0.25, "steps": 2,
                                      "alpha": 2.5 * 0.25 / 2}
    assert {r["id"] for r in history["perturbation_augmentation"]["perturbations"]} == {
        "test.upper", "test.hant", "test.typo"}
    manifest = json.loads((out / "cultura.json").read_text(encoding="utf-8"))
    assert manifest["training"]["adversarial"]["method"] == "pgd"


@pytest.mark.parametrize(("flags", "message"), [
    (["--adv-epsilon", "0.5"], "adversarial_epsilon is set but adversarial is not"),
    (["--adversarial", "fgm", "--pgd-steps", "2"], "pgd_steps applies to adversarial='pgd'"),
])
def test_cli_bad_combinations_fail_before_training(tiny, with_perturbing_plugin, tmp_path: Path,
                                                   capsys, flags: list[str],
                                                   message: str) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"text": "great", "label": "正面"}, ensure_ascii=False),
                    encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(data), "-c", "zh", "-t", "sentiment", "-b", str(tiny["bert"]),
              "-o", str(tmp_path / "out"), *flags])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_cli_rejects_unknown_methods_and_negative_epsilon(tiny, tmp_path: Path) -> None:
    for flags, word in ((["--adversarial", "sgd"], "fgm"), (["--adversarial", "fgm",
                                                            "--adv-epsilon", "-1"], "-1")):
        result = CliRunner().invoke(cli, ["train", "x.jsonl", "-c", "zh", "-o",
                                          str(tmp_path / "o"), *flags])
        assert result.exit_code == 2 and word in result.output
