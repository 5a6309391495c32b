# One command to see it work (make demo), one to test it (make test). Both install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench simulator clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m ploomes_devkit.demo $(if $(filter 1 yes true,$(ONCE)),--once,)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

simulator: install
	$(BIN)/python -m ploomes_simulator --port 8089 --deals 30000

clean:
	rm -rf $(VENV) .demo bench/results
