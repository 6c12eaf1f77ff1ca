"""``python -m bench.perf_worker``: one dispatching worker process for P2's worker scaling.

Sets Django up (untimed), prints ``ready``, waits for ``go`` on stdin, runs one
``outbox.dispatch()`` pass and prints its outcome as JSON. Started with the bench
environment (:func:`bench.perf_env.django_env`).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


def main() -> None:
    """Ready, go, dispatch, report."""
    from bench.perf_env import setup_django

    setup_django(os.environ["DATABASE_URL"])
    from helpdesk_sms import outbox

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    outcome: dict[str, object] = {"start": time.time()}
    cpu = time.process_time()
    try:
        report = outbox.dispatch()
        outcome.update(claimed=report.claimed, accepted=report.accepted, errors=report.errors[:3])
    except Exception as exc:  # reported in the benchmark's row, not raised
        outcome["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    outcome["end"] = time.time()
    outcome["cpu"] = time.process_time() - cpu
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
