# The two commands of the README: `make run` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-deps test run

$(BIN)/python:
	python3 -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]"
	npm ci --no-audit --no-fund --loglevel=error

system-deps:
	bash scripts/system-deps.sh

test: system-deps install
	$(BIN)/pytest

run: install
	$(BIN)/accountability validate
	$(BIN)/accountability tables
	@echo
	@echo '# try a decision of the deployed tables, e.g.:'
	@echo "$(BIN)/accountability decide sanction --input '{\"severity\": \"serious\", \"aggravated\": true}'"
	$(BIN)/accountability decide sanction --input '{"severity": "serious", "aggravated": true}'
