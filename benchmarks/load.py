"""A bounded HTTP load on loopback: N connections for S seconds, queries read from stdin.

    python -m benchmarks.load URL SECONDS CONNECTIONS < queries.txt

Prints one JSON line: requests per second, latency percentiles, errors. Stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx2 as httpx


async def worker(
    client: httpx.AsyncClient,
    url: str,
    queries: list[str],
    until: float,
    out: list[float],
    errors: list[int],
    offset: int,
) -> None:
    n = offset
    while time.monotonic() < until:
        q = queries[n % len(queries)]
        n += 1
        started = time.perf_counter()
        try:
            answer = await client.get(url, params={"q": q, "lat": 30.2716, "lng": 120.1636})
            if answer.status_code >= 500:
                errors.append(answer.status_code)
        except httpx.HTTPError:
            errors.append(0)
        out.append((time.perf_counter() - started) * 1000)


async def run(url: str, seconds: float, connections: int, queries: list[str]) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(worker(client, url, queries, until, latencies, errors, i * 37) for i in range(connections))
        )
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "seconds": elapsed,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
        "errors": len(errors),
    }


if __name__ == "__main__":
    url, seconds, connections = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    queries = [line for line in sys.stdin.read().splitlines() if line.strip()] or ["头疼"]
    print(json.dumps(asyncio.run(run(url, seconds, connections, queries))))
