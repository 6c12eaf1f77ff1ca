"""gunicorn configuration for P4: ``gunicorn project.wsgi -c bench/perf_gunicorn.py``.

Swaps in the URLconf named by ``BENCH_ROOT_URLCONF`` (bench/perf_urls.py adds the trivial
reference view) once each worker has loaded the site: project.settings stays as it is.
"""

from __future__ import annotations

import os
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Point Django at the bench URLconf; resolvers read ROOT_URLCONF per request."""
    urlconf = os.environ.get("BENCH_ROOT_URLCONF")
    if urlconf:
        from django.conf import settings

        settings.ROOT_URLCONF = urlconf
