# Two commands on a fresh machine: `make run` and `make test`.
#
# The site runs on the current Django (6.1), which needs Python 3.12 or newer:
# tools/find_python.py finds one (on PATH, in pyenv, or through uv). Set
# PYTHON=/path/to/python3.13 to choose another.
PYTHON ?= $(shell python3 tools/find_python.py 3.13 3.12)
VENV := .venv
BIN := $(VENV)/bin
DEPS := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(DEPS)
TEST_STAMP := $(VENV)/.test-installed-$(DEPS)
# Parallel jobs of the engine's version matrix (tools/matrix.py).
MATRIX_JOBS ?= 3

.PHONY: run test lint matrix site-tests format bench clean system-deps

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: no Python 3.12 or 3.13 found (Django 6.1 needs one); set PYTHON=/path/to/python3.13" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# pip 25.1+ installs PEP 735 dependency groups (--group).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e . --group site
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e . --group site --group test --group lint --group bench
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# What the tests need that the project installs itself: Swift's s3api (Debian
# packages) for the strict-S3 tier, Debian's Chromium for the browser tests.
# moto, gunicorn and the matrix's virtual environments come from PyPI and are
# started (and stopped) by the tests.
system-deps:
	bash tests/swift/install.sh
	bash tests/browser/install.sh

test: $(TEST_STAMP) system-deps lint
	$(BIN)/python manage.py check --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run -v 0
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/python tools/matrix.py --jobs $(MATRIX_JOBS) -- $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The engine's suite on every supported Python and Django (noxfile.py).
matrix: $(TEST_STAMP)
	$(BIN)/python tools/matrix.py --jobs $(MATRIX_JOBS)

# The site's suite alone, in the project's own environment.
site-tests: $(TEST_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sessions_blob uploads analytics_site tools

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(TEST_STAMP)
	$(BIN)/python bench/session_roundtrip.py

clean:
	rm -rf $(VENV) .nox var .pytest_cache .ruff_cache .mypy_cache dist build
