"""`yaodao eval search FILE [--out PRED.jsonl]`: the real search on a freshly seeded Hangzhou.

Each query runs at a downtown address (Wulin Square, GCJ-02) at 14:00 local time, unless the
line gives its own ``address`` ({"lat": …, "lng": …}). The ranked products are the page's
relevance order over both sections (OTC and Rx), as the page shows them first in each.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yaodao.kernel.geo import LatLng
from yaodao.search.evaluate import INTENTS, Labelled, Predicted, render, score

DOWNTOWN = LatLng(30.2716, 120.1636)  # 武林广场, Gongshu
AT = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Hangzhou


def read_labelled(path: str) -> list[tuple[Labelled, LatLng]]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            if row["intent"] not in INTENTS:
                raise ValueError(f"intent must be one of {', '.join(INTENTS)}")
            address = row.get("address")
            point = LatLng(float(address["lat"]), float(address["lng"])) if address else DOWNTOWN
            labelled = Labelled(
                str(row["query"]), row["intent"], tuple(g.lower() for g in row.get("expect_generic", []))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{n}: {exc}") from exc
        out.append((labelled, point))
    return out


def evaluate_search_file(path: str, out: str | None) -> int:
    from yaodao.adapters.db import migrate
    from yaodao.bootstrap import bootstrap
    from yaodao.kernel.clock import ManualClock
    from yaodao.seed import seed
    from yaodao.settings import Settings

    labelled = read_labelled(path)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/eval.db"
        migrate.upgrade(url)
        container = bootstrap(Settings(env="test", database_url=url), clock=ManualClock(AT), fast_passwords=True)
        seed(container, demo_users=False)
        city = container.cities.get("hangzhou")
        assert city is not None
        pairs = []
        lines = []
        for label, point in labelled:
            page = container.search.search(label.query, city=city, address=point, at=AT)
            top = tuple(card.inns for card in page.ranked[:5])
            pairs.append((label, Predicted(label.query, page.intent, page.confidence, top)))
            lines.append(
                json.dumps(
                    {
                        "query": label.query,
                        "intent": page.intent,
                        "confidence": round(page.confidence, 3),
                        "top5_generic": [list(t) for t in top],
                    },
                    ensure_ascii=False,
                )
            )
        container.close()
    if out:
        Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write(render(score(pairs)) + "\n")
    return 0
