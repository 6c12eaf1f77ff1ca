"""``python -m bench.perf_worker``: one dispatching worker process for P2's worker scaling.

Sets Django up once (untimed) and prints ``ready``; then, for each ``go`` line on stdin,
runs one ``outbox.dispatch()`` pass and prints its outcome as one JSON line, until stdin
closes. Started with the bench environment (:func:`bench.perf_env.django_env`); kept
alive across repetitions so process start-up is never part of a figure.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    """Ready; then go, dispatch, report, as often as asked."""
    from bench.perf_env import setup_django

    setup_django(os.environ["DATABASE_URL"])
    from django.db import connection

    from helpdesk_sms import outbox

    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        outcome: dict[str, object] = {"start": time.time()}
        cpu = time.process_time()
        try:
            report = outbox.dispatch()
            outcome.update(
                claimed=report.claimed, accepted=report.accepted, errors=report.errors[:3]
            )
        except Exception as exc:  # reported in the benchmark's row, not raised
            outcome["error"] = f"{type(exc).__name__}: {exc}"
            connection.close()  # a fresh one next time, whatever state this one is in
        outcome["end"] = time.time()
        outcome["cpu"] = time.process_time() - cpu
        print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
