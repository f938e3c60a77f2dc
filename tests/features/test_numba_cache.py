"""The feature kernels' numba cache is keyed by every source file of the package: numba itself
invalidates a kernel's cache only when the kernel's own file changes, so ``run_batch`` kept
running an old ``apply_one`` after an edit of ``_kernel_apply.py`` (numba issue #1833)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import stream_app.features as package
from stream_app.features._numba_cache import cache_key

SOURCES = Path(package.__file__).parent


def test_any_change_to_any_source_of_the_package_changes_the_key(tmp_path: Path) -> None:
    copy = tmp_path / "features"
    shutil.copytree(SOURCES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert cache_key(copy) == cache_key()
    apply = copy / "_kernel_apply.py"
    apply.write_text(apply.read_text().replace("REREAD = 4", "REREAD = 5"))
    changed = cache_key(copy)
    assert changed != cache_key()
    (copy / "_state.py").write_text((copy / "_state.py").read_text() + "\n")
    edited = cache_key(copy)
    assert edited not in {changed, cache_key()}
    (copy / "_new_module.py").write_text("")
    assert cache_key(copy) not in {edited, changed, cache_key()}


def test_every_kernel_caches_below_the_keyed_directory(tmp_path: Path) -> None:
    # in a fresh interpreter (numba reads its configuration once): NUMBA_CACHE_DIR is the base
    script = (
        "import numba\n"
        "from stream_app.features import kernels\n"
        "from stream_app.features import _kernel_apply, _kernel_batch, _kernel_vector\n"
        "print(numba.config.CACHE_DIR)\n"
        "for module in (_kernel_apply, _kernel_batch, _kernel_vector):\n"
        "    for name in dir(module):\n"
        "        kernel = getattr(module, name)\n"
        "        if hasattr(kernel, '_cache') and hasattr(kernel._cache, '_cache_path'):\n"
        "            print(kernel._cache._cache_path)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)},
                            cwd=SOURCES.parents[1])
    directory, *paths = result.stdout.split()
    assert directory == str(tmp_path / f"predelinq-kernels-{cache_key()}")
    assert len(paths) > 10  # every kernel module's kernels
    assert all(path.startswith(directory + os.sep) for path in paths), paths
