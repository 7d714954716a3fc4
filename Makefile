# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATABASE_URL ?= mysql://root@127.0.0.1:3306/backpack
PYTEST_ARGS ?=

.PHONY: run test lint venv

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	bash scripts/ensure-build-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Development: DEBUG on (its secrets and per-process cache), the embedded SQLite database.
run: venv
	env -u DATABASE_URL DEBUG=1 $(BIN)/python manage.py migrate --no-input
	env -u DATABASE_URL DEBUG=1 $(BIN)/python manage.py seed_demo
	env -u DATABASE_URL DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

test: venv
	@DATABASE_URL=$(DATABASE_URL) $(BIN)/python scripts/wait-for-mariadb.py
	DATABASE_URL=$(DATABASE_URL) $(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
