.PHONY: install demo dev test unit lint format diagrams screenshots

install:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

dev: install
	bash scripts/dev.sh

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

screenshots:  # refresh the pictures in docs/ (the suite itself writes them to a temporary directory)
	HITL_WRITE_DOCS_SCREENSHOTS=1 .venv/bin/python -m pytest -q tests/integration/test_inbox_browser.py tests/integration/test_agent_inbox_browser.py tests/integration/test_mail_browser.py
