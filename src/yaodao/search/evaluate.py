"""Scoring a search run against a labelled query set: intent accuracy, confusion, recall@5, MRR@5.

Pure: it takes (label, prediction) pairs and returns numbers; the CLI runs the real search.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

INTENTS = ("urgent_medicine", "symptom", "drug", "consult", "emergency", "non_medical")


@dataclass(frozen=True, slots=True)
class Labelled:
    query: str
    intent: str
    expect_generic: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Predicted:
    query: str
    intent: str
    confidence: float
    top_generics: tuple[tuple[str, ...], ...]  # per ranked product (up to 5), its INNs


@dataclass(frozen=True, slots=True)
class Report:
    n: int
    intent_accuracy: float
    confusion: dict[str, dict[str, int]]
    emergency_recall: float
    nonmed_precision: float
    product_queries: int
    recall_at_5: float
    mrr_at_5: float
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (query, expected, predicted)
    product_misses: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)


def _rank_of_first_hit(expected: Sequence[str], ranked: Sequence[Sequence[str]]) -> int | None:
    wanted = {e.lower() for e in expected}
    for rank, inns in enumerate(ranked[:5], start=1):
        if wanted & {i.lower() for i in inns}:
            return rank
    return None


def score(pairs: Sequence[tuple[Labelled, Predicted]]) -> Report:
    if not pairs:
        raise ValueError("no queries to score")
    confusion = {a: dict.fromkeys(INTENTS, 0) for a in INTENTS}
    misses = []
    for label, pred in pairs:
        confusion[label.intent][pred.intent] += 1
        if label.intent != pred.intent:
            misses.append((label.query, label.intent, pred.intent))
    correct = sum(confusion[i][i] for i in INTENTS)
    predicted = Counter(p.intent for _, p in pairs)
    actual = Counter(label.intent for label, _ in pairs)
    emergency_recall = confusion["emergency"]["emergency"] / actual["emergency"] if actual["emergency"] else 1.0
    nonmed_precision = (
        confusion["non_medical"]["non_medical"] / predicted["non_medical"] if predicted["non_medical"] else 1.0
    )
    product_pairs = [(label, pred) for label, pred in pairs if label.expect_generic]
    ranks = [_rank_of_first_hit(label.expect_generic, pred.top_generics) for label, pred in product_pairs]
    product_misses = [
        (label.query, label.expect_generic, tuple(i for inns in pred.top_generics for i in inns))
        for (label, pred), rank in zip(product_pairs, ranks, strict=True)
        if rank is None
    ]
    n_products = len(product_pairs)
    return Report(
        n=len(pairs),
        intent_accuracy=correct / len(pairs),
        confusion=confusion,
        emergency_recall=emergency_recall,
        nonmed_precision=nonmed_precision,
        product_queries=n_products,
        recall_at_5=sum(r is not None for r in ranks) / n_products if n_products else 1.0,
        mrr_at_5=sum(1 / r for r in ranks if r is not None) / n_products if n_products else 1.0,
        misses=misses,
        product_misses=product_misses,
    )


def render(report: Report) -> str:
    """A readable report ending with one line of key=value pairs (the keys are stable)."""
    width = max(len(i) for i in INTENTS)
    lines = [
        f"Search evaluation: {report.n} queries, {report.product_queries} with expected products",
        "",
        f"  intent accuracy        {report.intent_accuracy:.2%}",
        f"  emergency recall       {report.emergency_recall:.2%}",
        f"  non_medical precision  {report.nonmed_precision:.2%}",
        f"  product recall@5       {report.recall_at_5:.2%}",
        f"  product MRR@5          {report.mrr_at_5:.3f}",
        "",
        "  confusion (rows: labelled, columns: predicted)",
        "  " + " " * width + " " + " ".join(f"{i[:8]:>8}" for i in INTENTS),
    ]
    for actual in INTENTS:
        row = " ".join(f"{report.confusion[actual][p]:>8}" for p in INTENTS)
        lines.append(f"  {actual:>{width}} {row}")
    if report.misses:
        lines += ["", f"  intent misses ({len(report.misses)}):"]
        lines += [f"    {q!r}: labelled {e}, predicted {p}" for q, e, p in report.misses[:40]]
    if report.product_misses:
        lines += ["", f"  product misses ({len(report.product_misses)}):"]
        lines += [f"    {q!r}: wanted {'/'.join(e)}; top 5 had {', '.join(g[:8]) or 'nothing'}"
                  for q, e, g in report.product_misses[:40]]  # fmt: skip
    lines += [
        "",
        f"intent_acc={report.intent_accuracy:.4f} emergency_recall={report.emergency_recall:.4f} "
        f"nonmed_precision={report.nonmed_precision:.4f} recall@5={report.recall_at_5:.4f} "
        f"mrr@5={report.mrr_at_5:.4f} n={report.n}",
    ]
    return "\n".join(lines)
