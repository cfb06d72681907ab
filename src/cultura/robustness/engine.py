"""Run a culture's perturbations over labelled data and measure an adapter under each.

For every perturbation the texts are perturbed (deterministically for a seed), and the
adapter predicts only the texts whose *normalized* form changed: a text the perturbation left
alone, or whose change the adapter's normalizers undo, is fed to the model exactly as the
clean one, so its prediction is the clean one. Perturbations are plugin code: they run in a
daemon thread per chunk of texts, each chunk within the plugin time limit
(``CULTURA_PLUGIN_TIMEOUT``); one that raises, hangs or returns anything but a string is
reported as ``failed`` with its plugin's name, and the others still run.

Nothing here imports torch at module level; the model does when it predicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cultura.core.errors import CulturaError
from cultura.core.perturb import CHUNK, PerturbationFailure, perturb, source
from cultura.core.types import Perturbation
from cultura.robustness.report import PerturbationResult, RobustnessReport

if TYPE_CHECKING:
    from cultura.adapt.cultural_model import CulturalModel

__all__ = ["CHUNK", "perturb", "robustness_report"]

def _selected(
    model: CulturalModel, only: Sequence[str] | None, extra: Sequence[Perturbation]
) -> list[tuple[Perturbation, str]]:
    found = [(c.value, c.level) for c in model.profile.perturbations]
    ids = [p.id for p, _ in found]
    duplicates = sorted({p.id for p in extra if p.id in ids or [q.id for q in extra].count(p.id) > 1})
    if duplicates:
        raise CulturaError(
            f"perturbation id(s) {', '.join(duplicates)} given twice (or the culture's plugins "
            "already give them); give your own perturbations ids of their own"
        )
    if only is not None:
        unknown = [i for i in only if i not in ids]
        if unknown:
            raise CulturaError(
                f"no perturbation {', '.join(map(repr, unknown))} for culture {model.culture}; "
                f"perturbations on offer: {', '.join(ids) or 'none'} (cultura show "
                f"{model.culture} lists them)"
            )
        found = [(p, level) for p, level in found if p.id in only]
    found += [(p, "") for p in extra]
    if not found:
        raise CulturaError(
            f"culture {model.culture} has no perturbations: no installed plugin gives any "
            "(cultura plugins --hook perturbations lists those that do). Install the culture's "
            "plugin (e.g. cultura-zh), or pass perturbations of your own"
        )
    return found


def _predict(model: CulturalModel, texts: Sequence[str], *, batch_size: int,
             knowledge: bool | None) -> list[int]:
    if not texts:
        return []
    probs, _ = model.predict_proba(list(texts), batch_size=batch_size, knowledge=knowledge)
    return [int(i) for i in probs.argmax(axis=-1)]


def robustness_report(
    model: CulturalModel,
    data: Any,
    *,
    perturbations: Sequence[str] | None = None,
    extra: Sequence[Perturbation] = (),
    seed: int = 0,
    batch_size: int = 32,
    knowledge: bool | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    label_map: Mapping[Any, str] | None = None,
    timeout: float | None = None,
    name: str | None = None,
) -> RobustnessReport:
    """Clean accuracy of a classifier adapter on ``data``, and its accuracy and flip rate under
    each perturbation of its culture.

    Args:
        model: a loaded adapter with a ``seq-cls`` head (:func:`cultura.load`,
            :func:`cultura.load_pretrained`).
        data: labelled data as :meth:`~cultura.CulturalModel.evaluate` reads it (.jsonl,
            .csv, .tsv, a folder of ``<label>.txt`` files, records, a Dataset).
        perturbations: ids of the culture's perturbations to run (default: every one of the
            culture's profile, ``cultura show TAG`` lists them).
        extra: perturbations of your own, always run, after the plugins' (source ``given``).
        seed: seeds the random perturbations (same seed, same texts).
        knowledge: knowledge injection on/off (``None``: as the adapter was trained).
        text_field / label_field / label_map: how ``data`` is read, as for ``evaluate``.
        timeout: seconds one chunk of :data:`CHUNK` texts may take per perturbation
            (default ``CULTURA_PLUGIN_TIMEOUT``, else 10; ``0``: no limit).
        name: what the report calls the adapter (default: its culture and task).
    """
    if model.head_type != "seq-cls":
        raise CulturaError(
            f"robustness needs a text classifier (seq-cls head); task {model.spec.task!r} is "
            f"a {model.head_type} head. Run it on a sentiment or topic adapter"
        )
    chosen = _selected(model, perturbations, extra)
    examples = model.examples(data, text_field=text_field, label_field=label_field,
                              label_map=label_map)
    texts = [e.text or "" for e in examples]
    gold = [e.label for e in examples]
    n = len(texts)
    clean = _predict(model, texts, batch_size=batch_size, knowledge=knowledge)
    clean_normalized = model.tokenizer.normalize(texts)
    labels = tuple(model.labels)
    results = []
    for p, level in chosen:
        base = dict(id=p.id, kind=p.kind, description=p.description, source=source(p),
                    level=level, seeded=p.seeded, rate=p.rate, n=n)
        try:
            perturbed = perturb(p, texts, seed=seed, timeout=timeout)
        except PerturbationFailure as exc:
            results.append(PerturbationResult(**base, status="failed", error=str(exc)))
            continue
        changed = [i for i in range(n) if perturbed[i] != texts[i]]
        normalized = model.tokenizer.normalize([perturbed[i] for i in changed])
        seen = [i for i, norm in zip(changed, normalized, strict=True)
                if norm != clean_normalized[i]]
        predicted = list(clean)
        for i, label in zip(seen, _predict(model, [perturbed[i] for i in seen],
                                           batch_size=batch_size, knowledge=knowledge),
                            strict=True):
            predicted[i] = label
        flipped = [i for i in seen if predicted[i] != clean[i]]
        status = "ok" if seen else ("normalized" if changed else "inert")
        results.append(PerturbationResult(
            **base,
            status=status,
            changed=len(changed) / n,
            changed_normalized=len(seen) / n,
            accuracy=sum(p_ == g for p_, g in zip(predicted, gold, strict=True)) / n,
            flip_rate=len(flipped) / n,
            flip_rate_changed=len(flipped) / len(changed) if changed else None,
            flips=tuple(
                {"where": examples[i].where, "text": texts[i], "perturbed": perturbed[i],
                 "gold": labels[gold[i]] if gold[i] is not None else None,
                 "clean": labels[clean[i]], "perturbed_prediction": labels[predicted[i]]}
                for i in flipped[:5]
            ),
        ))
    return RobustnessReport(
        adapter=name or f"{model.culture}/{model.spec.task}",
        culture=model.culture,
        task=model.spec.task,
        n=n,
        seed=seed,
        clean_accuracy=sum(c == g for c, g in zip(clean, gold, strict=True)) / n,
        results=tuple(results),
        labels=labels,
    )
