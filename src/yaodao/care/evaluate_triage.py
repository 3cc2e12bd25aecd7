"""Scoring a triage run against a labelled intake set: department accuracy, confusion, red-flag recall and precision.

Pure: it takes labelled cases and the predictions for them and returns numbers; ``yaodao eval triage`` runs the
real triage. Red-flag recall is the share of labelled red flags the triage flagged (a miss is a patient sent to
an online queue in an emergency); precision is the share of flagged cases that were labelled red flags (a false
alarm sends someone to the emergency department who did not need it). With no labelled red flags recall is 1.0,
and with no flagged case precision is 1.0, so a set without emergencies scores departments only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from yaodao.care.departments import CODES, DEPARTMENTS

_SHORT = {
    "internal_medicine": "im",
    "paediatrics": "paed",
    "obstetrics_gynaecology": "obgyn",
    "dermatology": "derm",
    "ent": "ent",
    "ophthalmology": "eye",
    "gastroenterology": "gastro",
    "respiratory": "resp",
    "cardiology": "cardio",
    "endocrinology": "endo",
    "neurology": "neuro",
    "urology_andrology": "uro",
    "orthopaedics_surgery": "ortho",
    "psychiatry": "psych",
    "emergency": "emerg",
}


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    department: str
    red_flag: bool


@dataclass(frozen=True, slots=True)
class Prediction:
    department: str
    red_flags: tuple[str, ...] = ()

    @property
    def red_flag(self) -> bool:
        return bool(self.red_flags)


@dataclass(frozen=True, slots=True)
class Report:
    n: int
    department_accuracy: float
    confusion: dict[str, dict[str, int]]  # labelled -> predicted -> count
    red_flag_recall: float
    red_flag_precision: float
    true_flags: int
    missed_flags: int
    false_flags: int
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (text, labelled, predicted)
    missed_red_flags: list[str] = field(default_factory=list)
    false_alarms: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


def score(cases: Sequence[Case], predictions: Sequence[Prediction]) -> Report:
    """Compare each case with its prediction (same order). Refuses an empty run and unknown codes."""
    if not cases:
        raise ValueError("no cases to score")
    if len(cases) != len(predictions):
        raise ValueError(f"{len(cases)} cases but {len(predictions)} predictions")
    confusion = {a: dict.fromkeys(CODES, 0) for a in CODES}
    misses, missed, alarms = [], [], []
    tp = fn = fp = 0
    for case, pred in zip(cases, predictions, strict=True):
        for code in (case.department, pred.department):
            if code not in confusion:
                raise ValueError(f"unknown department code {code!r}")
        confusion[case.department][pred.department] += 1
        if case.department != pred.department:
            misses.append((case.text, case.department, pred.department))
        if case.red_flag and pred.red_flag:
            tp += 1
        elif case.red_flag:
            fn += 1
            missed.append(case.text)
        elif pred.red_flag:
            fp += 1
            alarms.append((case.text, pred.red_flags))
    return Report(
        n=len(cases),
        department_accuracy=sum(confusion[c][c] for c in CODES) / len(cases),
        confusion=confusion,
        red_flag_recall=tp / (tp + fn) if tp + fn else 1.0,
        red_flag_precision=tp / (tp + fp) if tp + fp else 1.0,
        true_flags=tp,
        missed_flags=fn,
        false_flags=fp,
        misses=misses,
        missed_red_flags=missed,
        false_alarms=alarms,
    )


def render(report: Report) -> str:
    """A readable report ending with one line of key=value pairs (the keys are stable)."""
    width = max(len(c) for c in CODES)
    labelled = {c: sum(report.confusion[c].values()) for c in CODES}
    lines = [
        f"Triage evaluation: {report.n} cases, {report.true_flags + report.missed_flags} labelled red flags",
        "",
        f"  department accuracy    {report.department_accuracy:.2%}",
        f"  red-flag recall        {report.red_flag_recall:.2%}  (missed {report.missed_flags})",
        f"  red-flag precision     {report.red_flag_precision:.2%}  (false alarms {report.false_flags})",
        "",
        "  per department (labelled: right / cases)",
    ]
    for d in DEPARTMENTS:
        if labelled[d.code]:
            right = report.confusion[d.code][d.code]
            lines.append(f"  {d.code:>{width}}  {right:>4} / {labelled[d.code]:<4} {right / labelled[d.code]:.0%}")
    lines += ["", "  confusion (rows: labelled, columns: predicted)"]
    lines.append("  " + " " * width + " " + " ".join(f"{_SHORT[c]:>6}" for c in CODES))
    for actual in CODES:
        lines.append(f"  {actual:>{width}} " + " ".join(f"{report.confusion[actual][p]:>6}" for p in CODES))
    if report.missed_red_flags:
        lines += ["", f"  missed red flags ({len(report.missed_red_flags)}):"]
        lines += [f"    {text!r}" for text in report.missed_red_flags]
    if report.false_alarms:
        lines += ["", f"  false alarms ({len(report.false_alarms)}):"]
        lines += [f"    {text!r}: {', '.join(flags)}" for text, flags in report.false_alarms[:40]]
    if report.misses:
        lines += ["", f"  department misses ({len(report.misses)}):"]
        lines += [f"    {text!r}: labelled {e}, predicted {p}" for text, e, p in report.misses[:60]]
    lines += [
        "",
        f"dept_acc={report.department_accuracy:.4f} redflag_recall={report.red_flag_recall:.4f} "
        f"redflag_precision={report.red_flag_precision:.4f} n={report.n}",
    ]
    return "\n".join(lines)
