"""The demo site's URLs plus one trivial view: P4's reference, on the same server.

Bench-only: gunicorn serves ``project.wsgi`` with this URLconf swapped in by
``bench/perf_gunicorn.py`` (env ``BENCH_ROOT_URLCONF``); the app itself is untouched.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from project.urls import urlpatterns as site_urlpatterns


@csrf_exempt
def trivial(request: HttpRequest) -> HttpResponse:
    """Answers like the webhook does, doing nothing: the cost of Django and gunicorn alone."""
    return HttpResponse("OK", content_type="text/plain")


urlpatterns = [path("bench/trivial/", trivial, name="bench-trivial"), *site_urlpatterns]
