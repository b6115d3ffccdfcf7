# The two commands of the README: `make run` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-deps lint test run

$(BIN)/python:
	python3 -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]"
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build  # the in-browser modeler's bundle (build/modeler/), from node_modules

system-deps:
	bash scripts/system-deps.sh

# The diagrams against bpmnlint's recommended rules and the project's own (.bpmnlintrc,
# lint/bpmnlint-plugin-accountability); any error stops `make test`.
lint: install
	node_modules/.bin/bpmnlint processes/*.bpmn

test: system-deps install lint
	$(BIN)/pytest

run: install
	$(BIN)/accountability validate
	$(BIN)/accountability demo
	@echo "Open http://127.0.0.1:8000/ and log in with a demo account above (password demo1234)."
	@echo "Public complaint page: http://127.0.0.1:8000/report   API: http://127.0.0.1:8000/api/v1 (HTTP Basic)"
	$(BIN)/accountability serve --host 127.0.0.1 --port 8000
