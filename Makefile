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
# Tests run on every core (pytest-xdist), each worker with a database and a Redis db of its own.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest --numprocesses=$(TEST_WORKERS) --maxprocesses=8

# The Python that creates .venv: PYTHON if given, else the first of these that is 3.11+.
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3

.PHONY: help run test test-fast lint lock translations translations-init clean

help:
	@echo "make run           create .venv, migrate, seed the demo, serve web + worker + beat"
	@echo "                   at $(BASE_URL) (HOST=... PORT=... to change)"
	@echo "make test          run the whole test suite (PostgreSQL and Redis on 127.0.0.1),"
	@echo "                   every random world (Hypothesis profile ci)"
	@echo "make test-fast     the inner loop: no browser, worker, fault or fuzz tests, few random worlds"
	@echo "make lint          ruff check"
	@echo "make lock          rewrite requirements.lock from what .venv has installed"
	@echo "make translations  extract the strings into coprod/translations/messages.pot, merge them"
	@echo "                   into every catalog (coprod/translations/<lang>/LC_MESSAGES) and compile"
	@echo "make translations-init LANG=xx"
	@echo "                   start the catalog of a new language from messages.pot"

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
	$(PYTEST) --hypothesis-profile=ci $(PYTEST_ARGS)

test-fast: $(INSTALLED)
	$(PYTEST) --hypothesis-profile=dev -m "not browser and not worker and not fuzz" $(PYTEST_ARGS)

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

# Keywords and file patterns are in babel.cfg (tests/test_i18n.py extracts with the same file).
# New and changed strings arrive untranslated, not as fuzzy guesses that a translator might
# pass over (and whose placeholders often differ, which fails the compile).
# A catalog marked fuzzy as a whole (as translations-init leaves it) is not compiled, and only
# compiled catalogs are offered (LANGUAGES in config.py): a language shows up once finished.
TRANSLATIONS := coprod/translations
POT := $(TRANSLATIONS)/messages.pot

translations: $(INSTALLED)
	@mkdir -p $(TRANSLATIONS)
	$(BIN)/pybabel extract -F babel.cfg --project coprod \
		--copyright-holder "Coprod contributors" -o $(POT) .
	@if ls $(TRANSLATIONS)/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel update -i $(POT) -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete && \
	  $(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics; \
	else echo "No catalogs yet: make translations-init LANG=xx"; fi

# LANG is also the shell's locale variable: accept it only from the command line.
translations-init: $(INSTALLED)
	@[ "$(origin LANG)" = "command line" ] && [[ "$(LANG)" =~ ^[a-z]{2,3}(_[A-Z][A-Za-z0-9]+)?$$ ]] \
	  || { echo "usage: make translations-init LANG=xx (a language code such as da)" >&2; exit 1; }
	@[ -f $(POT) ] || { echo "$(POT) is missing: run make translations first" >&2; exit 1; }
	@[ ! -f $(TRANSLATIONS)/$(LANG)/LC_MESSAGES/messages.po ] \
	  || { echo "$(TRANSLATIONS)/$(LANG) exists: make translations updates it" >&2; exit 1; }
	$(BIN)/pybabel init -i $(POT) -d $(TRANSLATIONS) -l $(LANG)
	@$(BIN)/python -c 'import io, pathlib, sys; from babel.messages.pofile import read_po, write_po; \
	  po = pathlib.Path(sys.argv[1]); catalog = read_po(io.BytesIO(po.read_bytes())); \
	  catalog.fuzzy = True; out = io.BytesIO(); write_po(out, catalog); po.write_bytes(out.getvalue())' \
	  $(TRANSLATIONS)/$(LANG)/LC_MESSAGES/messages.po
	@echo "Translate $(TRANSLATIONS)/$(LANG)/LC_MESSAGES/messages.po, delete its '#, fuzzy' header"
	@echo "line when every message is done, then run make translations: $(LANG) is offered from then on."

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
