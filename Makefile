# The two commands of the README: `make run` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-deps test run

$(BIN)/python:
	python3 -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]"
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build  # the in-browser modeler's bundle (build/modeler/), from node_modules

system-deps:
	bash scripts/system-deps.sh

test: system-deps install
	$(BIN)/pytest

run: install
	$(BIN)/accountability validate
	$(BIN)/accountability demo
	@echo "Open http://127.0.0.1:8000/ and log in with a demo account above (password demo1234)."
	@echo "Public complaint page: http://127.0.0.1:8000/report   API: http://127.0.0.1:8000/api/v1 (HTTP Basic)"
	$(BIN)/accountability serve --host 127.0.0.1 --port 8000
