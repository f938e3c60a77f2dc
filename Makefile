# The two commands of the README, plus helpers. Each installs what it needs.
.PHONY: demo test lint typecheck venv clean bench-short

demo: venv
	.venv/bin/predelinq demo

test:
	scripts/run-tests.sh

venv:
	@scripts/ensure-venv.sh

lint: venv
	.venv/bin/ruff check stream_app model_registry tests bench examples

typecheck: venv
	.venv/bin/mypy

# Issue 7's comparison benchmark, short mode (about 3 minutes; optional CI step, not in `test`)
bench-short: venv
	.venv/bin/python -m bench.compare --short

clean:
	rm -rf .venv var .mypy_cache .ruff_cache .pytest_cache
