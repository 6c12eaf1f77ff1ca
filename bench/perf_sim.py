"""``python -m bench.perf_sim canlog '{"delivery_delay": 0}'``: one simulator until stdin closes.

Prints the simulator's URL on its first line. Run as a process of its own so that the
process being measured shares its GIL with nobody.
"""

from __future__ import annotations

import json
import sys

from helpdesk_sms.simulators import get_simulator


def main() -> None:
    """Start the simulator, print its URL, serve until the parent closes our stdin."""
    name = sys.argv[1]
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    sim = get_simulator(name, **options)
    url = sim.start()
    print(url, flush=True)
    try:
        sys.stdin.read()  # returns at EOF: the parent is done (or gone)
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
