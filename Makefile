# The two set-up commands: `make run` and `make test`. Each creates .venv when
# it is missing and installs into it first the versions pinned, with their hashes, in
# requirements.txt (`make lock` pins them again from pyproject.toml), then the project.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint demo clean messages lock lock-upgrade

$(STAMP): pyproject.toml requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(BIN)/python -m pip check || { echo "requirements.txt lacks a dependency: run make lock" >&2; exit 1; }
	@touch $(STAMP)

# Pin pyproject.toml's dependencies (with the test extra) with their hashes: `make lock`
# keeps the versions pinned and adds or drops what pyproject.toml changed; `make
# lock-upgrade` takes the newest versions allowed. pip-tools runs in a venv of its own.
LOCK_VENV := .venv-lock
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --extra test --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	--output-file requirements.txt

lock lock-upgrade:
	@test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/python -m pip install --quiet pip-tools; }
	$(PIP_COMPILE) $(if $(filter lock-upgrade,$@),--upgrade) pyproject.toml
	sed -i '/^# WARNING: pip install will require/,/^    # via subledger (pyproject.toml)$$/d' \
		requirements.txt

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
	SUBLEDGER_TEST_RESTART_POSTGRES=yes $(BIN)/python -m pytest -m serial

# The web app's French catalog: extract the marked messages again and merge them in
# (then translate the new ones; a test fails while any is untranslated).
messages: $(STAMP)
	$(BIN)/python -m service.web.i18n

clean:
	rm -rf $(VENV) $(LOCK_VENV) var .pytest_cache .mypy_cache .hypothesis
