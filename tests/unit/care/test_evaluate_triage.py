"""Scoring a triage run and `yaodao eval triage`: each metric counts what it says, bad lines are named."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from yaodao.care.departments import CODES, CONSULT_CODES
from yaodao.care.evaluate_triage import Case, Prediction, render, score
from yaodao.eval_triage import read_cases, run

CASES_FILE = Path(__file__).resolve().parents[3] / "eval" / "triage" / "cases.jsonl"


def case(department: str, text: str = "x") -> Case:
    return Case(text, department, department == "emergency")


def prediction(department: str) -> Prediction:
    return Prediction(department, ("chest_pain",) if department == "emergency" else ())


def test_metrics_follow_their_definitions() -> None:
    """2 of 5 departments right; 1 of 2 red flags found; 1 of 2 flagged cases really red flags."""
    report = score(
        [case("emergency"), case("emergency"), case("cardiology"), case("ent"), case("paediatrics")],
        [prediction("emergency"), prediction("cardiology"), prediction("emergency"), prediction("ent"),
         prediction("internal_medicine")],
    )  # fmt: skip
    assert report.n == 5
    assert report.department_accuracy == pytest.approx(2 / 5)
    assert report.red_flag_recall == pytest.approx(1 / 2)
    assert report.red_flag_precision == pytest.approx(1 / 2)
    assert (report.true_flags, report.missed_flags, report.false_flags) == (1, 1, 1)
    assert report.confusion["emergency"]["cardiology"] == 1
    assert report.confusion["paediatrics"]["internal_medicine"] == 1
    assert sum(sum(row.values()) for row in report.confusion.values()) == 5


def test_a_set_without_red_flags_scores_recall_and_precision_as_one() -> None:
    """No labelled and no predicted red flags: nothing was missed and nothing was a false alarm."""
    report = score([case("ent")], [prediction("dermatology")])
    assert (report.red_flag_recall, report.red_flag_precision, report.department_accuracy) == (1.0, 1.0, 0.0)


def test_the_report_ends_with_the_stable_summary_line() -> None:
    """The last line is `dept_acc=… redflag_recall=… redflag_precision=… n=…` in that order."""
    report = score(
        [case("emergency", "胸痛"), case("ent", "耳鸣")], [prediction("emergency"), prediction("ophthalmology")]
    )
    text = render(report)
    assert text.splitlines()[-1] == "dept_acc=0.5000 redflag_recall=1.0000 redflag_precision=1.0000 n=2"
    assert "'耳鸣': labelled ent, predicted ophthalmology" in text
    assert "confusion (rows: labelled, columns: predicted)" in text


def test_the_report_lists_missed_red_flags_and_false_alarms() -> None:
    """A missed emergency and a false alarm are each printed with their text."""
    report = score(
        [case("emergency", "喘不上气"), case("ent", "耳鸣")], [prediction("respiratory"), prediction("emergency")]
    )
    text = render(report)
    assert "missed red flags (1):" in text
    assert "'喘不上气'" in text
    assert "false alarms (1):" in text


@pytest.mark.parametrize(
    ("cases", "predictions", "message"),
    [([], [], "no cases"), ([case("ent")], [], "1 cases but 0 predictions"),
     ([case("dentistry")], [prediction("ent")], "unknown department")],
)  # fmt: skip
def test_a_bad_run_is_refused(cases: list[Case], predictions: list[Prediction], message: str) -> None:
    """Empty runs, mismatched lengths and unknown codes are errors, not numbers."""
    with pytest.raises(ValueError, match=message):
        score(cases, predictions)


def write(tmp_path: Path, rows: list[object]) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return str(path)


def test_the_command_triages_every_line_writes_predictions_and_reports(tmp_path: Path) -> None:
    """`yaodao eval triage FILE --out PRED` runs the real triage; age_months gives a baby's age."""
    file = write(
        tmp_path,
        [
            {"text": "胸口疼，出冷汗", "age": 60, "sex": "m", "red_flag": True, "department": "emergency"},
            {"text": "宝宝发烧38.2", "age": None, "age_months": 1.5, "sex": "f", "red_flag": True,
             "department": "emergency"},
            {"text": "耳鸣好几天了", "age": "41", "sex": "female", "red_flag": False, "department": "ent",
             "note": "ignored", "diagnosed_before": "yes"},
        ],
    )  # fmt: skip
    out = tmp_path / "pred.jsonl"
    stream = io.StringIO()
    assert run(file, str(out), stream) == 0
    predictions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [p["department"] for p in predictions] == ["emergency", "emergency", "ent"]
    assert "infant_fever" in predictions[1]["red_flags"]
    assert predictions[2]["follow_up_eligible"] is True
    assert stream.getvalue().splitlines()[-1] == "dept_acc=1.0000 redflag_recall=1.0000 redflag_precision=1.0000 n=3"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"text": "头疼", "age": 30}', "field 'red_flag'"),
        ('{"text": "", "red_flag": false, "department": "neurology"}', "field 'text'"),
        ('{"text": "头疼", "red_flag": false, "department": "dentistry"}', "field 'department'"),
        ('{"text": "头疼", "red_flag": true, "department": "neurology"}', "'emergency' exactly when red_flag"),
        ('{"text": "头疼", "age": "old", "red_flag": false, "department": "neurology"}', "field 'age'"),
        ('{"text": "头疼", "age": 200, "red_flag": false, "department": "neurology"}', "field 'age'"),
        ('{"text": "头疼", "sex": "q", "red_flag": false, "department": "neurology"}', "field 'sex'"),
        ('{"text": "头疼", "sex": "m", "pregnant": true, "red_flag": false, "department": "neurology"}',
         "field 'pregnant'"),
        ('{"text": "头疼", "allergies": 3, "red_flag": false, "department": "neurology"}', "field 'allergies'"),
        ('{"text": "头疼", "red_flag": false,', "not valid JSON"),
    ],
)  # fmt: skip
def test_a_bad_line_stops_the_run_naming_the_line_and_the_field(tmp_path: Path, line: str, expected: str) -> None:
    """A malformed case is reported as FILE:LINE: field …, with exit code 2 and no report."""
    good = {"text": "咳嗽", "age": 30, "red_flag": False, "department": "respiratory"}
    file = write(tmp_path, [good, line])
    stream = io.StringIO()
    assert run(file, None, stream) == 2
    assert f"{file}:2:" in stream.getvalue()
    assert expected in stream.getvalue()
    assert "dept_acc=" not in stream.getvalue()


def test_a_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """An unreadable file gives exit code 2 and says why."""
    stream = io.StringIO()
    assert run(str(tmp_path / "nope.jsonl"), None, stream) == 2
    assert stream.getvalue().startswith("error:")


def test_the_repository_set_is_large_balanced_and_bilingual() -> None:
    """At least 300 cases, every department at least 15, Chinese and English, negations and look-alikes."""
    labelled = read_cases(str(CASES_FILE))
    counts = Counter(c.department for c, _ in labelled)
    assert len(labelled) >= 300
    assert set(counts) == set(CODES)
    assert min(counts[d] for d in CONSULT_CODES) >= 15
    texts = [c.text for c, _ in labelled]
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts) >= 150
    assert sum(t.isascii() for t in texts) >= 60
    assert any("没有胸痛" in t for t in texts)
    notes = Counter(json.loads(line).get("note") for line in CASES_FILE.read_text(encoding="utf-8").splitlines())
    assert notes["negation"] >= 5
    assert notes["lookalike"] >= 5


def test_the_repository_set_meets_its_targets() -> None:
    """On eval/triage/cases.jsonl: red-flag recall 100% and department accuracy at least 85%."""
    stream = io.StringIO()
    assert run(str(CASES_FILE), None, stream) == 0
    summary = dict(pair.split("=") for pair in stream.getvalue().splitlines()[-1].split())
    assert float(summary["redflag_recall"]) == 1.0
    assert float(summary["dept_acc"]) >= 0.85
