"""The robustness report: accuracy and flip rate per perturbation, the gate, table, JSON, PNG.

This module imports no torch; :meth:`RobustnessReport.to_png` imports matplotlib lazily
(``pip install 'cultura[plot]'``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cultura.core.errors import CulturaError

__all__ = [
    "PerturbationResult",
    "RobustnessGate",
    "RobustnessReport",
    "robustness_gate",
]

#: ``ok``: measured; ``inert``: changed no text of the data (measures nothing there);
#: ``normalized``: changed texts, but the adapter's normalizers undo every change;
#: ``failed``: the perturbation raised, hung or returned something other than a string
Status = Literal["ok", "inert", "normalized", "failed"]


@dataclass(frozen=True)
class PerturbationResult:
    """How an adapter did under one perturbation.

    Attributes:
        id / kind / description / seeded / rate: the perturbation's (see
            :class:`~cultura.core.types.Perturbation`).
        source: the plugin that gave it (``"cultura-zh 0.1.0"``), or ``"given"`` for one passed
            to :func:`~cultura.robustness.engine.robustness_report` directly.
        level: the culture level it came from (empty when given directly).
        status: see :data:`Status`.
        n: rows evaluated.
        changed: share of texts the perturbation changed.
        changed_normalized: share of texts still different after the adapter's normalizers
            (what the model actually sees changed).
        accuracy: accuracy on the perturbed texts.
        flip_rate: share of rows whose predicted label differs from the clean prediction.
        flip_rate_changed: the same among the changed rows only (``None`` when none changed).
        flips: up to five rows whose prediction flipped: ``where``, ``text``, ``perturbed``,
            ``gold``, ``clean``, ``perturbed_prediction``.
        error: why it failed, naming the plugin (``status == "failed"``).
    """

    id: str
    kind: str
    description: str
    source: str
    level: str
    seeded: bool
    rate: float | None
    status: Status
    n: int
    changed: float | None = None
    changed_normalized: float | None = None
    accuracy: float | None = None
    flip_rate: float | None = None
    flip_rate_changed: float | None = None
    flips: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None

    def drop(self, clean_accuracy: float) -> float | None:
        """Clean accuracy minus accuracy under this perturbation (positive: worse)."""
        return None if self.accuracy is None else clean_accuracy - self.accuracy

    def as_dict(self, clean_accuracy: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "description": self.description,
            "source": self.source,
            "level": self.level,
            "seeded": self.seeded,
            "rate": self.rate,
            "status": self.status,
            "n": self.n,
            "changed": self.changed,
            "changed_normalized": self.changed_normalized,
            "accuracy": self.accuracy,
            "accuracy_drop": self.drop(clean_accuracy),
            "flip_rate": self.flip_rate,
            "flip_rate_changed": self.flip_rate_changed,
            "flips": [dict(f) for f in self.flips],
            "error": self.error,
        }


_NOTES: dict[str, str] = {
    "inert": "changed no text of the data: it measures nothing here (the data holds nothing it "
             "applies to, or the perturbation is broken)",
    "normalized": "the adapter's normalizers undo every change it makes",
}


@dataclass(frozen=True)
class RobustnessReport:
    """Clean accuracy and, per perturbation, accuracy, flip rate and how much it changed.

    Build one with :func:`cultura.robustness.robustness_report`; check it with
    :func:`robustness_gate`.
    """

    adapter: str
    culture: str
    task: str
    n: int
    seed: int
    clean_accuracy: float
    results: tuple[PerturbationResult, ...]
    labels: tuple[str, ...] = ()

    def result(self, perturbation_id: str) -> PerturbationResult:
        """The result of one perturbation; the error lists the ids in the report."""
        for r in self.results:
            if r.id == perturbation_id:
                return r
        ids = ", ".join(r.id for r in self.results) or "none"
        raise CulturaError(f"no perturbation {perturbation_id!r} in this report; ids: {ids}")

    @property
    def measured(self) -> tuple[PerturbationResult, ...]:
        """The results with an accuracy (every status but ``failed``)."""
        return tuple(r for r in self.results if r.accuracy is not None)

    @property
    def worst(self) -> PerturbationResult | None:
        """The measured perturbation with the highest flip rate (``None`` if none)."""
        ran = [r for r in self.measured if r.flip_rate is not None]
        return max(ran, key=lambda r: (r.flip_rate, -(r.accuracy or 0.0))) if ran else None

    def notes(self) -> list[str]:
        """One line per perturbation that failed, changed nothing or was normalized away."""
        out = []
        for r in self.results:
            if r.status == "failed":
                out.append(f"{r.id} ({r.source}) failed: {r.error}")
            elif r.status in _NOTES:
                out.append(f"{r.id} ({r.source}) {_NOTES[r.status]}")
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``cultura robustness --json`` prints, besides ``gate``)."""
        return {
            "adapter": self.adapter,
            "culture": self.culture,
            "task": self.task,
            "labels": list(self.labels),
            "n": self.n,
            "seed": self.seed,
            "clean_accuracy": self.clean_accuracy,
            "perturbations": [r.as_dict(self.clean_accuracy) for r in self.results],
            "notes": self.notes(),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def rows(self) -> list[dict[str, str]]:
        """The table's rows as text (what the terminal table shows)."""

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{100 * value:.1f}%"

        out = []
        for r in self.results:
            drop = r.drop(self.clean_accuracy)
            out.append({
                "perturbation": r.id,
                "kind": r.kind + (f" {r.rate:g}" if r.rate is not None else ""),
                "source": r.source,
                "changed": pct(r.changed),
                "accuracy": pct(r.accuracy),
                "drop": "-" if drop is None else f"{100 * drop:+.1f}",
                "flip rate": pct(r.flip_rate),
                "status": r.status,
            })
        return out

    def to_text(self) -> str:
        """A plain-text table (no colours), for logs and Markdown code blocks."""
        rows = self.rows()
        head = [f"{self.adapter} ({self.culture}, {self.task}): clean accuracy "
                f"{100 * self.clean_accuracy:.1f}% on {self.n} rows, seed {self.seed}"]
        if not rows:
            return head[0]
        columns = list(rows[0])
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
        head.append("  ".join(c.ljust(widths[c]) for c in columns))
        head += ["  ".join(r[c].ljust(widths[c]) for c in columns) for r in rows]
        head += [f"note: {n}" for n in self.notes()]
        return "\n".join(line.rstrip() for line in head)

    def to_png(self, path: str | Path, *, dpi: int = 120) -> Path:
        """Draw accuracy and flip rate per perturbation as two bar charts to ``path``.

        Needs matplotlib (``pip install 'cultura[plot]'``).
        """
        from cultura.core.plotting import pyplot

        plt = pyplot("RobustnessReport.to_png")
        ran = self.measured
        path = Path(path)
        names = [r.id + ("" if r.status == "ok" else f" ({r.status})") for r in ran]
        height = 0.42 * max(len(ran), 1) + 1.6
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, height), sharey=True)
        ys = range(len(ran))
        colors = ["#1565c0" if r.status == "ok" else "#9e9e9e" for r in ran]
        left.barh(ys, [100 * (r.accuracy or 0.0) for r in ran], color=colors)
        left.axvline(100 * self.clean_accuracy, color="black", linestyle="--", linewidth=1,
                     label=f"clean {100 * self.clean_accuracy:.1f}%")
        left.set_xlim(0, 100)
        left.set_xlabel("accuracy (%)")
        left.legend(loc="lower right", fontsize="small")
        left.set_yticks(list(ys), labels=names)
        left.invert_yaxis()
        right.barh(ys, [100 * (r.flip_rate or 0.0) for r in ran], color="#c62828")
        right.set_xlim(0, max(10.0, 100 * max((r.flip_rate or 0.0 for r in ran), default=0) * 1.2))
        right.set_xlabel("flip rate (% of predictions changed)")
        fig.suptitle(f"Robustness: {self.adapter} ({self.culture}, {self.task}, n={self.n})")
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        return path


@dataclass(frozen=True)
class RobustnessGate:
    """The verdict of :func:`robustness_gate`: ``passed``, and why not (``failures``), plus
    what it could not judge (``warnings``: perturbations that changed nothing)."""

    passed: bool
    failures: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "thresholds": dict(self.thresholds),
            "failures": list(self.failures),
            "warnings": list(self.warnings),
        }


def _check_share(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and 0 <= value <= 1
    ):
        raise CulturaError(
            f"{name}={value!r} is not a share: give a number between 0 and 1 (0.1 is 10%)"
        )


def robustness_gate(
    report: RobustnessReport,
    *,
    max_flip_rate: float | None = None,
    max_drop: float | None = None,
    min_accuracy: float | None = None,
) -> RobustnessGate:
    """Judge a report against thresholds (shares between 0 and 1), e.g. before publishing.

    Every measured perturbation must have ``flip_rate <= max_flip_rate``, ``clean accuracy -
    accuracy <= max_drop`` and ``accuracy >= min_accuracy`` (the clean accuracy too). A
    perturbation that failed (raised, hung, returned a non-string) fails the gate: its
    robustness is unknown. One that changed no text is a warning, not a failure. Give at least
    one threshold.
    """
    thresholds = {"max_flip_rate": max_flip_rate, "max_drop": max_drop,
                  "min_accuracy": min_accuracy}
    for name, value in thresholds.items():
        _check_share(name, value)
    given = {k: float(v) for k, v in thresholds.items() if v is not None}
    if not given:
        raise CulturaError(
            "robustness_gate needs a threshold: max_flip_rate, max_drop or min_accuracy "
            "(e.g. max_flip_rate=0.1)"
        )
    failures: list[str] = []
    warnings: list[str] = []
    if min_accuracy is not None and report.clean_accuracy < min_accuracy:
        failures.append(
            f"clean accuracy {report.clean_accuracy:.3f} < min_accuracy {min_accuracy:g}"
        )
    for r in report.results:
        if r.status == "failed":
            failures.append(f"{r.id} ({r.source}) failed, so its robustness is unknown: {r.error}")
            continue
        if r.status == "inert":
            warnings.append(f"{r.id} ({r.source}) {_NOTES['inert']}")
        if max_flip_rate is not None and (r.flip_rate or 0.0) > max_flip_rate:
            failures.append(f"{r.id}: flip rate {r.flip_rate:.3f} > max_flip_rate {max_flip_rate:g}")
        drop = r.drop(report.clean_accuracy)
        if max_drop is not None and drop is not None and drop > max_drop:
            failures.append(f"{r.id}: accuracy drop {drop:.3f} > max_drop {max_drop:g}")
        if min_accuracy is not None and r.accuracy is not None and r.accuracy < min_accuracy:
            failures.append(
                f"{r.id}: accuracy {r.accuracy:.3f} < min_accuracy {min_accuracy:g}"
            )
    return RobustnessGate(not failures, tuple(failures), tuple(warnings), given)
