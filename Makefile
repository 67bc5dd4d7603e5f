# Gatehouse: `make run` starts the server, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app

.PHONY: run test lint bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) bootstrap
	$(BIN)/gunicorn -c gunicorn.conf.py 'app:create_app()'

# The database suites run on SQLite and on PostgreSQL: GATEHOUSE_TEST_POSTGRESQL=postgresql://...
# names a server where the tests may create databases; unset, scripts/test-postgresql starts a
# throwaway one when PostgreSQL is installed, else pytest says the PostgreSQL half was skipped.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	scripts/test-postgresql run $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Benchmarks against the floor of this stack on this machine (needs wrk: apt-get install -y wrk).
# BENCH_ARGS="--seconds 2 --million 0" for a quick look; the full run takes about 10 minutes.
# GATEHOUSE_BENCH_POSTGRESQL=postgresql://... (a role that may create databases) measures every
# point on PostgreSQL too, side by side (about twice as long).
bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install -y wrk"; exit 1; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The long reliability runs (60 s mixed soak and friends); `make test` runs their short variants.
soak: $(VENV)/.installed-dev
	GATEHOUSE_SLOW=1 $(BIN)/python -m pytest -m slow $(PYTEST_ARGS)
