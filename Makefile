# The README's commands. Each bootstraps .venv on first use; only Python 3.11 and make needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean chaos bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: the demo site with its gateway simulator(s), a Celery worker with beat, on SQLite.
demo: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py loaddata --skip-checks fixtures/demo.json
	if $(BIN)/python -c "import sys, project.settings as s; sys.exit(not s.DEMO_HELPDESK)"; then \
	  $(BIN)/python manage.py loaddata --skip-checks fixtures/helpdesk.json; fi
	$(BIN)/python manage.py rundemo

## make test: the whole suite (SQLite unless DATABASE_URL says otherwise).
test: $(STAMP)
	$(BIN)/pytest

## make chaos: the engine under gateway faults, worker kills, cut database connections and a
## frozen broker, then every message accounted for (PostgreSQL DATABASE_URL, default
## postgres://postgres@127.0.0.1:5432/chaos; own Redis unless CHAOS_REDIS_URL). Fails on any
## lost, doubled, stranded or unexplained message. Small run: python -m bench.chaos --messages 1000
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## make bench: benchmarks against raw references, side by side (SQLite; PostgreSQL too when
## DATABASE_URL points at it, in its own "bench" database). Figures, not pass/fail; see
## docs/performance.md. BENCH_SCALE=0.1 for a quick run.
bench: $(STAMP)
	$(BIN)/python -m bench.perf

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
