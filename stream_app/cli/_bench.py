"""``predelinq bench``: issue 7's comparison benchmark (``bench/compare.py``).

The ``bench`` directory is part of the repository, not of the installed package, so this runs
``python -m bench.compare`` from the checkout the package was imported from, with every
argument passed through unchanged (``predelinq bench --help`` shows the benchmark's options).
From an installed wheel there is no ``bench/`` next to the package: the command says so and
exits with status 2.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .main import CliError

__all__ = ["bench_checkout", "run"]


def bench_checkout(package_dir: Path | None = None) -> Path | None:
    """The repository root holding ``bench/compare.py`` next to the ``stream_app`` package
    (``package_dir``, default: the imported one), or None for an installed package."""
    if package_dir is None:
        import stream_app

        package_dir = Path(stream_app.__file__).resolve().parent
    root = package_dir.parent
    return root if (root / "bench" / "compare.py").is_file() else None


def run(args: argparse.Namespace) -> int:
    root = bench_checkout()
    if root is None:
        raise CliError("the benchmark lives in the repository's bench/ directory, which is not "
                       "installed with the package: run `predelinq bench` (or `python -m "
                       "bench.compare`) from a checkout of the repository", code=2)
    command = [sys.executable, "-m", "bench.compare", *args.bench_args]
    return subprocess.run(command, cwd=root, check=False).returncode
