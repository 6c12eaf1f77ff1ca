"""A small HTTP load generator: a fixed list of GETs over a few keep-alive connections.

Fixed work rather than a fixed duration, so every pushed report names a message of its
own. ``http.client`` reopens a connection the server closed (gunicorn's sync workers
close after each answer), so the same client suits keep-alive and closing servers.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """Throughput, latency and answers of one run."""

    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int | str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency at quantile ``q`` in ms."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0


def run(host: str, port: int, paths: list[str], concurrency: int = 4) -> LoadResult:
    """GET every path once, ``concurrency`` at a time; bounded by the list and 30 s timeouts."""
    lock = threading.Lock()
    cursor = iter(paths)
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        seen: Counter[int | str] = Counter()
        while True:
            with lock:
                path = next(cursor, None)
            if path is None:
                break
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Host": host})
                response = conn.getresponse()
                response.read()
                seen[response.status] += 1
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                seen[type(exc).__name__] += 1
                conn.close()
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(seen)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(paths), time.perf_counter() - start, latencies, statuses)
