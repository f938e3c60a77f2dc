"""numba's on-disk cache of the feature kernels, keyed by this package's sources.

numba invalidates a cached kernel only when the file that defines it changes. A kernel that
calls a kernel of another module (``run_batch`` calls ``_kernel_apply.apply_one``), or reads a
constant of another module (``MAX_DEDUP_IDS``), keeps its stale compiled code when only that
other file changes (numba issue #1833): after an edit of ``apply_one`` the batch path ran the
old one. So every kernel's cache lives in a directory named by a hash of numba's version and
every source file of this package: any change to them compiles afresh, and two versions of
the code never share a cache. The base directory is ``NUMBA_CACHE_DIR`` when set (the image
sets it), else this package's ``__pycache__``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numba

__all__ = ["cache_key", "configure"]

_PACKAGE = Path(__file__).resolve().parent


def cache_key(package: Path = _PACKAGE) -> str:
    """16 hex digits of SHA-256 over numba's version and the ``*.py`` files of ``package``
    (this one)."""
    digest = hashlib.sha256(numba.__version__.encode())
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def configure() -> str:
    """Point numba's cache at the directory of :func:`cache_key` (once per process, before
    the kernels are defined); returns it. ``numba.config.CACHE_DIR`` is set, not the
    environment, so that child processes derive their own from the same base (numba keeps
    a value set so while no ``NUMBA_*`` variable changes)."""
    base = os.environ.get("NUMBA_CACHE_DIR") or str(_PACKAGE / "__pycache__")
    directory = str(Path(base) / f"predelinq-kernels-{cache_key()}")
    numba.config.CACHE_DIR = directory  # type: ignore[attr-defined]  # numba sets its config attributes at runtime
    return directory
