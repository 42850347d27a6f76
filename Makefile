# The two commands of the README are `make demo` and `make test`; both set up
# what they need (Debian packages, the virtualenv) on a fresh machine first.

VENV    := .venv
STAMP   := $(VENV)/.installed
PYTHON  := $(VENV)/bin/python
RUNBOOK := $(VENV)/bin/runbook
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench lab-up lab-down clean

setup: .debian-packages $(STAMP)

.PHONY: .debian-packages
.debian-packages:
	@scripts/install-debian-packages

$(STAMP): pyproject.toml
	@interpreter=$$(scripts/find-python) || exit 1; \
	  [ -x $(PYTHON) ] || "$$interpreter" -m venv $(VENV)
	@$(PYTHON) -m pip install --quiet --upgrade pip
	@$(PYTHON) -m pip install --quiet -e '.[dev]'
	@touch $@

demo: setup
	$(RUNBOOK) demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ansible-lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ansible-lint

# Each benchmark prints its figures; the lab must be up for all but the first.
bench: setup
	$(PYTHON) benchmarks/lab_updown.py
	$(RUNBOOK) lab up
	$(PYTHON) benchmarks/steps.py
	$(PYTHON) benchmarks/incident.py
	$(PYTHON) benchmarks/health_scale.py

lab-up: setup
	$(RUNBOOK) lab up

lab-down: setup
	$(RUNBOOK) lab down

clean:
	-$(RUNBOOK) lab down
	rm -rf $(VENV) var
