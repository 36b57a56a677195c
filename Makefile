.PHONY: setup up test lint fmt

setup:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'

up: setup
	.venv/bin/leadflow up

test: setup
	.venv/bin/pytest -x -q

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .

fmt:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
