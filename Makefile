# Coprod, locally: `make run` serves the demo at http://127.0.0.1:5000, `make test` runs the suite.
# The virtualenv is a file target: it is rebuilt only when requirements.lock or pyproject.toml
# change, so repeated runs start at once.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
# Links in emails point here; follows HOST and PORT unless set.
BASE_URL ?= http://$(HOST):$(PORT)
PYTEST_ARGS ?=

# The Python that creates .venv: PYTHON if given, else the first of these that is 3.11+.
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3

.PHONY: help run test lint lock translations clean

help:
	@echo "make run           create .venv, migrate, seed the demo, serve web + worker + beat"
	@echo "                   at $(BASE_URL) (HOST=... PORT=... to change)"
	@echo "make test          run the whole test suite (PostgreSQL and Redis on 127.0.0.1)"
	@echo "make lint          ruff check"
	@echo "make lock          rewrite requirements.lock from what .venv has installed"
	@echo "make translations  extract the strings to translate into coprod/translations/messages.pot"

$(INSTALLED): requirements.lock pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  python=$${PYTHON:-$$(for p in $(PYTHON_CANDIDATES); do \
	    $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	      && { echo $$p; break; }; done)}; \
	  [ -n "$$python" ] || { echo "make: Python 3.11 or newer is needed (python3.11 ...)." >&2; exit 1; }; \
	  echo "Creating $(VENV) with $$python"; $$python -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

run: $(INSTALLED)
	BASE_URL=$(BASE_URL) $(BIN)/coprod db upgrade
	BASE_URL=$(BASE_URL) $(BIN)/coprod demo
	BASE_URL=$(BASE_URL) $(BIN)/coprod run --host $(HOST) --port $(PORT)

test: $(INSTALLED)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .

lock: $(INSTALLED)
	@{ echo "# Every dependency of Coprod (runtime and the test extra), pinned as installed."; \
	   echo "# Regenerate with: make lock"; \
	   $(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check \
	     | grep -v -i -E '^coprod( |=|@)'; } > requirements.lock.tmp
	@mv requirements.lock.tmp requirements.lock
	@touch $(INSTALLED)
	@echo "requirements.lock: $$(grep -c '==' requirements.lock) pinned packages"

translations: $(INSTALLED)
	@mkdir -p coprod/translations
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 \
		--project coprod --copyright-holder "Coprod contributors" \
		-o coprod/translations/messages.pot .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
