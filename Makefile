.PHONY: install demo dev test unit lint format diagrams

install:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

dev: install
	LANGSMITH_TRACING=false LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true \
	  .venv/bin/langgraph dev --no-browser --host 127.0.0.1 --port $${HITL_PORT:-8123}

test:
	bash scripts/test.sh

unit:
	.venv/bin/python -m pytest -m "not integration"

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

diagrams:
	.venv/bin/python scripts/diagrams.py --write
