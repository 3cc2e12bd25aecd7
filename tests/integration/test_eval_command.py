"""`yaodao eval search FILE --out PRED` runs the real search and ends with the key=value line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_eval_command_scores_a_labelled_file_and_writes_predictions(tmp_path: Path) -> None:
    labelled = tmp_path / "q.jsonl"
    rows = [
        {"query": "急用药", "intent": "urgent_medicine"},
        {"query": "布洛芬", "intent": "drug", "expect_generic": ["ibuprofen"]},
        {"query": "胸口疼 出冷汗", "intent": "emergency"},
        {"query": "手机壳", "intent": "non_medical"},
        {"query": "头疼", "intent": "consult"},  # deliberately wrong: the score must show it
    ]
    labelled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "yaodao.cli", "eval", "search", str(labelled), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    last = done.stdout.strip().splitlines()[-1]
    figures = dict(pair.split("=") for pair in last.split())
    assert figures["n"] == "5"
    assert figures["intent_acc"] == "0.8000"
    assert figures["emergency_recall"] == "1.0000"
    assert figures["recall@5"] == "1.0000"
    predictions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [p["query"] for p in predictions] == [r["query"] for r in rows]
    assert predictions[2]["intent"] == "emergency"
    assert any("ibuprofen" in g for g in predictions[1]["top5_generic"])


def test_a_malformed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "头疼", "intent": "symptom"}\n{"query": "x", "intent": "shopping"}\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "yaodao.cli", "eval", "search", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert f"{bad}:2" in done.stderr
