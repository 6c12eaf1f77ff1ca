"""``python -m bench.perf_mem 100000``: peak memory of one send_sms call, alone in a process.

``ru_maxrss`` (the kernel's high-water mark) rather than tracemalloc, which would slow the
call several times over and miss memory outside Python's allocator (database drivers).
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    """Set up, note the baseline, make the call, report the peak."""
    count = int(sys.argv[1])
    from bench.perf_env import setup_django

    setup_django(os.environ["DATABASE_URL"])
    from bench.perf_env import numbers
    from bench.perf_p3 import TEXT
    from helpdesk_sms.api import send_sms
    from helpdesk_sms.models import Provider

    provider = Provider.objects.get(name="Canlog bench")
    listed = numbers(count, 9 * 10**7)
    baseline = _rss_mb()
    start = time.perf_counter()
    made = send_sms(listed, TEXT, provider=provider)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "count": len(made),
                "baseline_mb": baseline,
                "peak_mb": _rss_mb(),
                "seconds": seconds,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
