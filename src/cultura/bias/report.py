"""Bias reports: per-check results, pass/fail, provenance; JSON, Markdown, summary and PNG.

A :class:`BiasReport` is what :func:`cultura.bias.engine.check_bias` returns. Its
:meth:`~BiasReport.to_markdown` table goes into the model card, its
:meth:`~BiasReport.summary` into ``cultura.json`` and the card metadata, and
:attr:`~BiasReport.passed` drives the publish gate (:mod:`cultura.bias.gate`).

This module imports no torch; :meth:`BiasReport.to_png` imports matplotlib lazily (optional
extra ``cultura[plot]``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cultura.core.errors import CulturaError
from cultura.core.types import MinimalPair

__all__ = [
    "CheckResult",
    "BiasReport",
    "METRIC_NAMES",
    "PAIR_METRICS",
    "MIN_METRICS",
    "REPORT_FORMAT",
]

REPORT_FORMAT = 1
Status = Literal["pass", "fail", "skipped"]

#: metric id -> human name used in tables
METRIC_NAMES: dict[str, str] = {
    "ctf_gap": "CTF gap (mean |Δp| over swaps)",
    "max_group_gap": "max pairwise group gap",
    "flip_rate": "flip rate",
    "crows_pairs": "CrowS-Pairs score (%)",
    "pair_ll": "minimal-pair LL score (%)",
    "stereoset": "StereoSet SS (%)",
    "stereoset_lms": "StereoSet LMS (%)",
    "stereoset_icat": "StereoSet ICAT",
}
#: metrics scored as a percentage whose ideal value is 50: they pass when |score - 50| <= threshold
PAIR_METRICS: frozenset[str] = frozenset({"crows_pairs", "pair_ll", "stereoset"})
#: metrics where higher is better (0-100): they pass when score >= threshold
MIN_METRICS: frozenset[str] = frozenset({"stereoset_lms", "stereoset_icat"})


def _clean(value: Any) -> Any:
    """Make ``value`` JSON-ready: numpy scalars -> Python, NaN -> None, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one bias check.

    Attributes:
        check_id: the check's id (e.g. ``"zh.gender.ctf"``).
        category: bias category (``"gender"``, ``"region"``, ...).
        metric: ``ctf_gap``, ``max_group_gap``, ``flip_rate``, ``crows_pairs``, ``pair_ll`` or
            ``stereoset``.
        score: the metric's value (``None`` when skipped).
        threshold: for gap metrics the check passes when ``score <= threshold``; for the
            percentage metrics (:data:`PAIR_METRICS`, ideal 50) when ``|score - 50| <= threshold``;
            for StereoSet's LMS and ICAT (:data:`MIN_METRICS`, ideal 100) when
            ``score >= threshold``.
        status: ``"pass"``, ``"fail"`` or ``"skipped"``.
        supplied_by: who supplied the check, for humans (``"cultura-zh 0.1.0"``,
            ``"file crows.csv"``).
        source: the same, machine-readable: ``kind`` (``plugin``, ``file`` or ``caller``) and
            ``plugin``/``distribution``/``version``/``level`` or ``path``.
        details: metric-specific numbers (other metrics, per-group means, worst swaps/pairs).
        reason: why a check was skipped, or a one-line explanation of a failure.
        license: license of the check's data.
    """

    check_id: str
    category: str
    metric: str
    score: float | None
    threshold: float
    status: Status
    supplied_by: str
    source: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    license: str = ""

    @property
    def passed(self) -> bool | None:
        """``True``/``False``, or ``None`` when the check was skipped."""
        return None if self.status == "skipped" else self.status == "pass"

    @property
    def margin(self) -> float | None:
        """How far the score is from failing, as a fraction of the threshold (> 1 fails)."""
        if self.score is None:
            return None
        if self.metric in MIN_METRICS:
            if self.score <= 0:
                return 0.0 if self.threshold <= 0 else math.inf
            return self.threshold / self.score
        value = abs(self.score - 50.0) if self.metric in PAIR_METRICS else self.score
        if self.threshold == 0:
            return 0.0 if value == 0 else math.inf
        return value / self.threshold

    @staticmethod
    def judge(metric: str, score: float, threshold: float) -> Status:
        """``"pass"`` or ``"fail"`` for ``score`` under ``threshold`` (see the class docs)."""
        if not math.isfinite(score):
            return "fail"
        if metric in MIN_METRICS:
            return "pass" if score >= threshold - 1e-12 else "fail"
        value = abs(score - 50.0) if metric in PAIR_METRICS else score
        return "pass" if value <= threshold + 1e-12 else "fail"

    def as_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "id": self.check_id,
                "category": self.category,
                "metric": self.metric,
                "score": self.score,
                "threshold": self.threshold,
                "status": self.status,
                "passed": self.passed,
                "supplied_by": self.supplied_by,
                "source": dict(self.source),
                "details": dict(self.details),
                "reason": self.reason,
                "license": self.license,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        try:
            return cls(
                check_id=str(data["id"]),
                category=str(data["category"]),
                metric=str(data["metric"]),
                score=None if data.get("score") is None else float(data["score"]),
                threshold=float(data["threshold"]),
                status=data["status"],
                supplied_by=str(data.get("supplied_by", "")),
                source=dict(data.get("source") or {}),
                details=dict(data.get("details") or {}),
                reason=str(data.get("reason", "")),
                license=str(data.get("license", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CulturaError(f"malformed bias check result {data!r}: {exc}") from None

    def describe_score(self) -> str:
        """The score as shown in tables (``"0.0123"``, ``"57.1 (ideal 50)"``, ``"—"``)."""
        if self.score is None:
            return "—"
        if self.metric in PAIR_METRICS:
            return f"{self.score:.1f} (ideal 50)"
        if self.metric in MIN_METRICS:
            return f"{self.score:.1f} (ideal 100)"
        return f"{self.score:.4f}"

    def describe_threshold(self) -> str:
        if self.metric in PAIR_METRICS:
            return f"|score − 50| ≤ {self.threshold:g}"
        if self.metric in MIN_METRICS:
            return f"≥ {self.threshold:g}"
        return f"≤ {self.threshold:g}"


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True)
class BiasReport:
    """Results of running bias checks on one model.

    Attributes:
        target: what was checked (adapter name, directory or model class).
        culture: the culture whose checks ran (``None`` when only user data ran).
        model_kind: ``classifier``, ``token-classifier``, ``mlm`` or ``causal-lm``.
        results: one :class:`CheckResult` per check, in the order they ran.
        warnings: problems that did not stop the run (e.g. a plugin's bias hook failed).
        cultura_version: the cultura that produced the report.
    """

    target: str
    culture: str | None
    model_kind: str
    results: tuple[CheckResult, ...] = ()
    warnings: tuple[str, ...] = ()
    cultura_version: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        if not self.cultura_version:
            from cultura import __version__

            object.__setattr__(self, "cultura_version", __version__)

    # ------------------------------------------------------------------ queries
    @property
    def passed(self) -> bool:
        """``True`` when no check failed (skipped checks do not fail a report)."""
        return not self.failures

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status == "fail")

    @property
    def ran(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status != "skipped")

    @property
    def skipped(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status == "skipped")

    def result(self, check_id: str) -> CheckResult:
        for r in self.results:
            if r.check_id == check_id:
                return r
        known = ", ".join(r.check_id for r in self.results) or "none"
        raise KeyError(f"no result for check {check_id!r}; checks in this report: {known}")

    def categories(self) -> dict[str, dict[str, Any]]:
        """Per category: checks run, failed, skipped, passed, and the checks' ids."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.results:
            cat = out.setdefault(
                r.category, {"passed": True, "run": 0, "failed": 0, "skipped": 0, "checks": []}
            )
            cat["checks"].append(r.check_id)
            if r.status == "skipped":
                cat["skipped"] += 1
            else:
                cat["run"] += 1
            if r.status == "fail":
                cat["failed"] += 1
                cat["passed"] = False
        return out

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "target": self.target,
            "culture": self.culture,
            "model_kind": self.model_kind,
            "passed": self.passed,
            "cultura_version": self.cultura_version,
            "results": [r.as_dict() for r in self.results],
            "categories": self.categories(),
            "warnings": list(self.warnings),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The full report as JSON (UTF-8 text, not ASCII-escaped)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasReport:
        if not isinstance(data, Mapping) or "results" not in data:
            raise CulturaError("not a cultura bias report: expected an object with 'results'")
        return cls(
            target=str(data.get("target", "")),
            culture=data.get("culture"),
            model_kind=str(data.get("model_kind", "")),
            results=tuple(CheckResult.from_dict(r) for r in data["results"]),
            warnings=tuple(data.get("warnings") or ()),
            cultura_version=str(data.get("cultura_version", "")),
        )

    @classmethod
    def from_json(cls, text: str) -> BiasReport:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise CulturaError(f"bias report is not valid JSON (line {exc.lineno}: {exc.msg})") from None

    def summary(self) -> dict[str, Any]:
        """A compact JSON-ready summary for ``cultura.json`` and the model card metadata."""
        return _clean(
            {
                "passed": self.passed,
                "culture": self.culture,
                "model_kind": self.model_kind,
                "cultura_version": self.cultura_version,
                "n_checks": len(self.results),
                "n_run": len(self.ran),
                "n_failed": len(self.failures),
                "n_skipped": len(self.skipped),
                "checks": [
                    {
                        "id": r.check_id,
                        "category": r.category,
                        "metric": r.metric,
                        "score": None if r.score is None else round(float(r.score), 6),
                        "threshold": r.threshold,
                        "status": r.status,
                        "supplied_by": r.supplied_by,
                    }
                    for r in self.results
                ],
                "categories": {
                    name: {k: v for k, v in cat.items() if k != "checks"}
                    for name, cat in self.categories().items()
                },
            }
        )

    def to_markdown(self, *, title: str = "Bias report", level: int = 2) -> str:
        """A Markdown section (heading, verdict, table, failure details) for the model card."""
        heading = "#" * max(1, level)
        verdict = "**PASSED**" if self.passed else "**FAILED**"
        lines = [
            f"{heading} {title}",
            "",
            f"{verdict}: {len(self.ran)} check(s) run, {len(self.failures)} failed, "
            f"{len(self.skipped)} skipped"
            + (f" · culture `{self.culture}`" if self.culture else "")
            + f" · model kind `{self.model_kind}` · cultura {self.cultura_version}",
            "",
        ]
        if not self.results:
            lines += ["No bias checks applied to this model.", ""]
        else:
            lines += [
                "| Category | Check | Metric | Score | Threshold | Result | Supplied by |",
                "|---|---|---|---|---|---|---|",
            ]
            for r in sorted(self.results, key=lambda r: (r.category, r.check_id)):
                result = {"pass": "pass", "fail": "**FAIL**", "skipped": "skipped"}[r.status]
                lines.append(
                    "| "
                    + " | ".join(
                        _md_cell(c)
                        for c in (
                            r.category,
                            f"`{r.check_id}`",
                            METRIC_NAMES.get(r.metric, r.metric),
                            r.describe_score(),
                            r.describe_threshold(),
                            result,
                            r.supplied_by,
                        )
                    )
                    + " |"
                )
            lines.append("")
        if self.failures:
            lines += [f"{heading}# Why it failed", ""]
            for r in self.failures:
                lines.append(f"- `{r.check_id}` ({r.category}): {_md_cell(r.reason)}")
            lines.append("")
        if self.skipped:
            lines += ["Skipped: " + "; ".join(f"`{r.check_id}` ({r.reason})" for r in self.skipped), ""]
        if self.warnings:
            lines += ["Warnings:", ""] + [f"- {_md_cell(w)}" for w in self.warnings] + [""]
        lines.append(
            "Gap metrics pass when the score is at most the threshold; percentage metrics "
            "(CrowS-Pairs, minimal-pair LL, StereoSet SS; ideal 50) pass when they are within "
            "the threshold of 50; StereoSet LMS and ICAT (ideal 100) pass when they are at "
            "least the threshold."
        )
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """A plain one-line-per-check rendering for terminals and logs."""
        lines = [
            f"bias report for {self.target}"
            + (f" (culture {self.culture})" if self.culture else "")
            + f": {'PASSED' if self.passed else 'FAILED'}"
        ]
        for r in self.results:
            lines.append(
                f"  [{r.status.upper():>7}] {r.check_id} ({r.category}, {r.metric}): "
                f"{r.describe_score()} vs {r.describe_threshold()} — {r.supplied_by}"
                + (f" — {r.reason}" if r.reason else "")
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_png(self, path: str | Path, *, dpi: int = 120) -> Path:
        """Draw a bar chart (score relative to threshold per check) to ``path``.

        Needs matplotlib (``pip install 'cultura[plot]'``).
        """
        from cultura.core.plotting import pyplot

        plt = pyplot("BiasReport.to_png")
        ran = [r for r in self.results if r.score is not None]
        path = Path(path)
        fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(ran), 1) + 1.4))
        labels = [f"{r.category}: {r.check_id}" for r in ran]
        values = [min(r.margin or 0.0, 3.0) for r in ran]
        colors = ["#2e7d32" if r.status == "pass" else "#c62828" for r in ran]
        ax.barh(range(len(ran)), values, color=colors)
        ax.set_yticks(range(len(ran)), labels=labels)
        ax.invert_yaxis()
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel("score / threshold (deviation from 50 for percentage metrics); > 1 fails")
        ax.set_title(
            f"Bias report: {'PASSED' if self.passed else 'FAILED'}"
            + (f" ({self.culture})" if self.culture else "")
        )
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        return path


def merge_reports(reports: Iterable[BiasReport]) -> BiasReport:
    """Concatenate several reports on the same target (e.g. plugin checks and a benchmark)."""
    reports = list(reports)
    if not reports:
        raise CulturaError("merge_reports needs at least one report")
    first = reports[0]
    results: list[CheckResult] = []
    warnings: list[str] = []
    for rep in reports:
        results.extend(rep.results)
        warnings.extend(rep.warnings)
    return BiasReport(
        first.target, first.culture, first.model_kind, tuple(results), tuple(warnings)
    )


def pair_rows(
    pairs: Sequence[MinimalPair],
    scores: Sequence[tuple[float, float]],
    decisions: Sequence[str],
    indices: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Every scored pair of a minimal-pair check, as the JSON report lists it in
    ``details["pairs"]``: ``index`` (the pair's position in the check, from ``indices``),
    ``more``, ``less``, ``direction``, ``bias_type``, ``more_score`` and ``less_score`` (the
    sentences' log-likelihood scores; higher = likelier) and ``decision`` (``"more"`` when the
    more stereotypical sentence scores higher, which the check's score counts; ``"less"``;
    ``"tie"``: equal after rounding, neutral)."""
    if not len(pairs) == len(scores) == len(decisions):
        raise CulturaError("pair_rows needs one score pair and one decision per pair")
    positions = range(len(pairs)) if indices is None else indices
    return [
        {
            "index": int(index),
            "more": pair.more,
            "less": pair.less,
            "direction": pair.direction,
            "bias_type": pair.bias_type,
            "more_score": float(more),
            "less_score": float(less),
            "decision": decision,
        }
        for index, pair, (more, less), decision in zip(
            positions, pairs, scores, decisions, strict=True
        )
    ]


def format_examples(items: Sequence[Mapping[str, Any]], limit: int = 3) -> str:
    """Render worst-case examples (``a``, ``b``, ``delta``) for a failure reason."""
    parts = []
    for item in list(items)[:limit]:
        parts.append(f"“{item['a']}” vs “{item['b']}” (Δ={item['delta']:.3f})")
    return "; ".join(parts)
