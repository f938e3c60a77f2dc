# The two commands of the README, plus helpers. Each installs what it needs.
.PHONY: demo test lint typecheck venv clean

demo: venv
	.venv/bin/predelinq demo

test:
	scripts/run-tests.sh

venv:
	@scripts/ensure-venv.sh

lint: venv
	.venv/bin/ruff check stream_app model_registry tests bench

typecheck: venv
	.venv/bin/mypy

clean:
	rm -rf .venv var .mypy_cache .ruff_cache .pytest_cache
