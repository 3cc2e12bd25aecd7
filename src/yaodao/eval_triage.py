"""`yaodao eval triage FILE [--out PRED.jsonl]`: the real intake triage on a labelled set.

Each line of FILE is one JSON object::

    {"text": "宝宝发烧38.5", "age": 1.5, "sex": "f", "red_flag": false, "department": "paediatrics"}

``text``, ``red_flag`` and ``department`` (a code of :mod:`yaodao.care.departments`; ``emergency`` exactly when
``red_flag`` is true) are required. ``age`` is in years and may be a fraction or null; ``age_months`` (optional)
gives a baby's age in months instead. Optional form fields: ``sex`` (f, m, u, or null), ``pregnant``,
``diagnosed_before`` (booleans), ``allergies``, ``current_meds`` (lists of names or one comma-separated string),
``for_person`` (self, child, parent, spouse, family; anything else counts as other). Numbers may be written as
strings ("34") and booleans as yes/no. Other keys (``note``, ``id``) are ignored. A bad line stops the run with
an error naming the file, the line and the field, and exit code 2.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, TextIO

from yaodao.care.departments import CODES, EMERGENCY
from yaodao.care.evaluate_triage import Case, Prediction, render, score
from yaodao.care.triage import PERSONS, Intake, triage
from yaodao.kernel.errors import ValidationFailed

_SEXES = {"f": "f", "female": "f", "woman": "f", "女": "f", "m": "m", "male": "m", "man": "m", "男": "m"}
_UNKNOWN_SEX = {"u", "unknown", "other", "x", ""}
_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否", ""}


class BadLine(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field!r}: {message}")


def _number(row: dict[str, Any], key: str, high: float) -> float | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not 0 <= number <= high:  # also false for NaN
        raise BadLine(key, f"must be a number from 0 to {high:g} or null, got {value!r}")
    return number


def _flag(row: dict[str, Any], key: str, *, required: bool = False) -> bool:
    value = row.get(key)
    if value is None and not required:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise BadLine(key, f"must be true or false, got {value!r}")


def _names(row: dict[str, Any], key: str) -> tuple[str, ...]:
    value = row.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p.strip() for p in re.split(r"[,，、;；]", value) if p.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise BadLine(key, "must be a list of names or one comma-separated string")


def parse_line(row: Any) -> tuple[Case, Intake]:
    """One labelled case and the intake form it describes; ``BadLine`` names the field that is wrong."""
    if not isinstance(row, dict):
        raise BadLine("line", "must be a JSON object")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadLine("text", "must be a non-empty string")
    red_flag = _flag(row, "red_flag", required=True)
    dept = row.get("department")
    if dept not in CODES:
        raise BadLine("department", f"must be one of {', '.join(CODES)}, got {dept!r}")
    if (dept == EMERGENCY) != red_flag:
        raise BadLine("department", "must be 'emergency' exactly when red_flag is true")
    age = _number(row, "age", 130)
    months = _number(row, "age_months", 1560)
    sex_raw = row.get("sex")
    sex_key = sex_raw.strip().lower() if isinstance(sex_raw, str) else sex_raw
    if sex_key is not None and sex_key not in _SEXES and sex_key not in _UNKNOWN_SEX:
        raise BadLine("sex", f"must be f, m or u (or null), got {sex_raw!r}")
    person = row.get("for_person") or "self"
    if not isinstance(person, str):
        raise BadLine("for_person", f"must be one of {', '.join(PERSONS)}, got {person!r}")
    person = person if person in PERSONS else "other"
    try:
        intake = Intake(
            text=text,
            age_years=months / 12 if months is not None else age,
            sex=_SEXES.get(sex_key, "u") if isinstance(sex_key, str) else "u",
            pregnant=_flag(row, "pregnant"),
            allergies=_names(row, "allergies"),
            current_meds=_names(row, "current_meds"),
            diagnosed_before=_flag(row, "diagnosed_before"),
            for_person=person,
        )
    except ValidationFailed as exc:
        field, message = exc.errors[0]
        raise BadLine(field, message) from exc
    return Case(text, dept, red_flag), intake


def read_cases(path: str) -> list[tuple[Case, Intake]]:
    """Every labelled case in a JSON Lines file; ``ValueError`` names the file, the line and the field."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(parse_line(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        except BadLine as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
    if not out:
        raise ValueError(f"{path}: no cases")
    return out


def run(file: str, out: str | None, stream: TextIO) -> int:
    """Triage every case of ``file``, write predictions to ``out`` (JSON Lines) and the report to ``stream``."""
    try:
        labelled = read_cases(file)
    except (OSError, ValueError) as exc:
        stream.write(f"error: {exc}\n")
        return 2
    predictions, lines = [], []
    for n, (case, intake) in enumerate(labelled, start=1):
        result = triage(intake)
        predictions.append(Prediction(result.department, result.red_flags))
        lines.append(
            json.dumps(
                {
                    "case": n,
                    "text": case.text,
                    "department": result.department,
                    "red_flag": bool(result.red_flags),
                    "red_flags": list(result.red_flags),
                    "urgency": result.urgency,
                    "confidence": result.confidence,
                    "evidence": list(result.evidence or result.red_flag_evidence),
                    "follow_up_eligible": result.follow_up_eligible,
                },
                ensure_ascii=False,
            )
        )
    if out:
        Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    stream.write(render(score([c for c, _ in labelled], predictions)) + "\n")
    return 0
