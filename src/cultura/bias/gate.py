"""The publish gate: refuse to publish an adapter whose bias checks fail.

The registry's ``publish`` calls :func:`run_gate` (or :func:`enforce` on a report it already
has). With ``allow_failures=True`` (``cultura publish --allow-bias-failures``) the failing report
is returned, and the caller puts it into the model card and ``cultura.json``.
"""

from __future__ import annotations

import warnings
from typing import Any

from cultura.bias.report import MIN_METRICS, BiasReport
from cultura.core.errors import CulturaError

__all__ = ["BiasGateError", "BiasGateWarning", "enforce", "run_gate"]


class BiasGateError(CulturaError):
    """Publishing was refused because bias checks failed; ``.report`` holds the report."""

    def __init__(self, message: str, report: BiasReport) -> None:
        super().__init__(message)
        self.report = report


class BiasGateWarning(UserWarning):
    """Bias checks failed but publishing was allowed (``--allow-bias-failures``)."""


def _failure_lines(report: BiasReport) -> str:
    return "\n".join(
        f"  - {r.check_id} ({r.category}, supplied by {r.supplied_by}): {r.reason}"
        for r in report.failures
    )


def enforce(report: BiasReport, *, allow_failures: bool = False) -> BiasReport:
    """Return ``report`` when it passed (or ``allow_failures``); otherwise raise
    :class:`BiasGateError` saying which checks failed and why."""
    if report.passed:
        return report
    if allow_failures:
        warnings.warn(
            f"publishing {report.target} although {len(report.failures)} bias check(s) failed "
            "(--allow-bias-failures); the failing report goes into the model card",
            BiasGateWarning,
            stacklevel=2,
        )
        return report
    raise BiasGateError(
        f"refusing to publish {report.target}: {len(report.failures)} of {len(report.ran)} bias "
        f"check(s) failed"
        + (f" for culture {report.culture}" if report.culture else "")
        + ":\n"
        + _failure_lines(report)
        + "\n"
        + _advice(report)
        + " Or publish anyway with --allow-bias-failures (allow_bias_failures=True): the "
        "failing report is then shown in the model card.",
        report,
    )


def _advice(report: BiasReport) -> str:
    """What to do about the failures: a low StereoSet LMS or ICAT says the model ranks
    meaningful sentences poorly, not that it is biased, so it gets its own advice."""
    quality = [r for r in report.failures if r.metric in MIN_METRICS]
    lines = []
    if len(quality) < len(report.failures):
        lines.append("Reduce the bias (e.g. retrain with counterfactual_augmentation=True).")
    if quality:
        lines.append(
            "A low LMS/ICAT means the model prefers unrelated sentences too often (language "
            "modelling quality, not bias): train the language model further, or lower "
            "--min-lms/--min-icat."
        )
    return " ".join(lines)


def run_gate(
    target: Any,
    *,
    culture: str | None = None,
    allow_failures: bool = False,
    data: Any = None,
    manager: Any = None,
    progress: bool = True,
    min_lms: float | None = None,
    min_icat: float | None = None,
) -> BiasReport:
    """Run the culture's bias checks (and ``data`` files) on ``target`` and :func:`enforce`
    the result. ``min_lms``/``min_icat``: StereoSet files in ``data`` must also reach these
    language-model and ICAT scores (see :func:`cultura.bias.engine.check_bias`); without
    them only the stereotype score SS gates, and a model that ranks sentences at random
    (LMS near 50) can pass."""
    from cultura.bias.engine import check_bias

    report = check_bias(
        target, culture=culture, data=data, manager=manager, progress=progress,
        min_lms=min_lms, min_icat=min_icat,
    )
    return enforce(report, allow_failures=allow_failures)
