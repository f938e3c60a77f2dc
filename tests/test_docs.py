"""The project's documents say what the code does (checked where it can be checked)."""

from __future__ import annotations

import re
from pathlib import Path

from stream_app.cli.main import build_parser
from stream_app.features import FEATURE_NAMES, FEATURES


def _table_first_column(text: str) -> list[str]:
    return re.findall(r"^\| \d+ \| `([a-z0-9_]+)` \|", text, flags=re.MULTILINE)


def test_features_doc_lists_the_catalogue_in_model_order(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "features.md").read_text()
    assert _table_first_column(doc) == list(FEATURE_NAMES)
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"^\| \d+ \| `([a-z0-9_]+)` \| ([^|]+) \|", doc, flags=re.MULTILINE)}
    for spec in FEATURES:  # the window column matches the catalogue's
        assert rows[spec.name].strip() == spec.window, spec.name


def test_readme_documents_every_cli_command(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    documented = set(re.findall(r"^\| `([a-z-]+)` \| ", readme, flags=re.MULTILINE))
    assert set(commands) <= documented


def test_readme_starts_with_exactly_two_setup_commands(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
