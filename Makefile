# The two set-up commands: `make run` and `make test`. Each creates .venv when
# it is missing and installs the project into it first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint demo clean messages

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/subledger serve --demo

lint: $(STAMP)
	$(BIN)/ruff check domain projections adapters service tests bench
	$(BIN)/ruff format --check domain projections adapters service tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite runs in TEST_WORKERS processes (its tests wait on servers and clocks more than
# they compute); the few that restart the shared PostgreSQL run alone afterwards.
TEST_WORKERS ?= 3

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(BIN)/python -m pytest -m serial

# The web app's French catalog: extract the marked messages again and merge them in
# (then translate the new ones; a test fails while any is untranslated).
messages: $(STAMP)
	$(BIN)/python -m service.web.i18n

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .hypothesis
