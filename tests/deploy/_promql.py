"""Metric names in PromQL expressions and in a Prometheus text exposition (for the checks that
alert rules and dashboards only use what the app exports)."""

from __future__ import annotations

import re

__all__ = ["exposed_names", "metric_names"]

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE)
_IDENTIFIER = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_NUMBER_SUFFIX = re.compile(r"^\d")
_KEYWORDS = frozenset({"and", "or", "unless", "offset", "bool", "by", "without", "on",
                       "ignoring", "group_left", "group_right", "inf", "nan", "e"})
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not functions, labels, keywords or numbers)."""
    text = _STRINGS.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables
    text = re.sub(r"\b\d[\w.]*", " ", text)  # numbers, durations
    return {name for name in _IDENTIFIER.findall(text)
            if name.lower() not in _KEYWORDS and not _NUMBER_SUFFIX.match(name)}


def exposed_names(exposition: str) -> set[str]:
    """Names a PromQL query can select from this /metrics text: every sample name, and for
    each family (also those without samples yet, e.g. labelled counters nothing incremented)
    its name, or its _bucket/_sum/_count series for histograms."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if kind == "histogram":
                names.update(name + suffix for suffix in _HISTOGRAM_SUFFIXES)
            else:
                names.add(name)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
