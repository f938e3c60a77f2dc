"""Where a *running* worker's CPU goes: py-spy samples the process (no restart, no code
change), and the samples are summed per function (self time) and per module family.

    .venv/bin/python -m bench.profile_worker --pid PID [--seconds 30] [--top 25]

Run it against a worker under load (e.g. the worker of ``bench/soak.py`` or of
``bench/compare.py``). py-spy is a dev dependency; it needs ptrace rights over the process
(root, or the same user with ``kernel.yama.ptrace_scope=0``). Idle samples (the event loop
waiting in ``select``) are left out by py-spy, so shares are of the time the worker was busy.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["family", "summarise"]

_FAMILIES = (  # the first match names a frame's family
    ("stream_app/features", "features (state, vector, codec)"),
    ("stream_app/scoring", "scoring + reasons"),
    ("stream_app/serializers", "decode/encode + validation"),
    ("stream_app/processing", "batch processing"),
    ("stream_app/policy", "policy"),
    ("stream_app/worker", "worker batch loop"),
    ("faust/", "faust"),
    ("mode/", "faust (mode)"),
    ("aiokafka/", "aiokafka"),
    ("rocksdict", "RocksDB"),
    ("catboost", "catboost"),
    ("prometheus_client", "prometheus-client"),
    ("asyncio/", "asyncio"),
)


def family(frame: str) -> str:
    """The part of the system a py-spy frame (``function (path:line)``) belongs to."""
    for needle, name in _FAMILIES:
        if needle in frame:
            return name
    return "other"


def summarise(folded: Iterable[str]) -> tuple[collections.Counter[str], collections.Counter[str],
                                               int]:
    """py-spy's raw (folded) lines ``frame;frame;...;leaf COUNT`` -> samples per leaf
    function (self time), per family of the innermost frame of ours or of a library
    (inclusive of what it calls in C), and the total."""
    leaves: collections.Counter[str] = collections.Counter()
    families: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit() or count_text == "0":
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[frames[-1]] += count
        named = [family(f) for f in frames]
        known = [n for n in named if n != "other"]
        families[known[-1] if known else "other"] += count
    return leaves, families, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pid", type=int, required=True, help="the worker's process id")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "worker.folded"
        subprocess.run([py_spy, "record", "--pid", str(args.pid), "--duration",
                        str(args.seconds), "--format", "raw", "--output", str(out),
                        "--nonblocking"], check=True, capture_output=True)
        leaves, families, total = summarise(out.read_text().splitlines())
    if not total:
        print("no samples: was the worker busy?")
        return 1
    print(f"{total} samples over {args.seconds} s (busy time only)\n")
    print("| part of the system | share |\n| --- | ---: |")
    for name, count in families.most_common():
        print(f"| {name} | {count / total:.0%} |")
    print(f"\ntop {args.top} functions by self time:")
    for frame, count in leaves.most_common(args.top):
        print(f"{count / total:6.1%}  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
