# The two commands of the README: `make run` and `make test`.
# Both create .venv from uv.lock when it is missing or older than the lock.

PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test test-fast test-slow lint format typecheck bench venv clean

venv: $(VENV)/.synced

$(VENV)/.synced: uv.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --frozen --quiet
	@touch $@

run: venv
	$(PY) -m skyflock.cli.main demo

test: venv
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 -m "not slow" -q

test-fast: venv
	$(PY) -m pytest -n 2 -m "not slow and not postgres" -q -x

test-slow: venv
	$(PY) -m pytest -m slow -q

lint: venv
	$(PY) -m ruff check src tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

format: venv
	$(PY) -m ruff format src tests bench
	$(PY) -m ruff check --fix src tests bench

bench: venv
	$(PY) bench/classad_bench.py
	$(PY) bench/negotiator_bench.py --slots 10000 --jobs 100000 --shapes 100 --submitters 50
	$(PY) bench/throughput_bench.py --jobs 5000

clean:
	rm -rf $(VENV) .skyflock .pytest_cache .mypy_cache .ruff_cache
