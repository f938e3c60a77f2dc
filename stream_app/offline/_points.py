"""Label / as-of CSV files: ``customer_id,as_of[,label]`` with a header row."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabelFileError", "Point", "read_points", "write_points"]

_MIN_MS = 946_684_800_000
_MAX_MS = 4_102_444_800_000


class LabelFileError(ValueError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Point:
    customer_id: str
    as_of: int
    label: int | None = None


def read_points(path: Path, *, require_label: bool) -> list[Point]:
    """Read and check every row; the first bad row raises LabelFileError with its line."""
    if not path.is_file():
        raise LabelFileError(path, 0, "file not found")
    points: list[Point] = []
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise LabelFileError(path, 1, "empty file: expected a header customer_id,as_of,label")
        columns = [c.strip() for c in header]
        wanted = ["customer_id", "as_of", "label"] if require_label else ["customer_id", "as_of"]
        if columns[: len(wanted)] != wanted:
            raise LabelFileError(path, 1, f"header must start with {','.join(wanted)}")
        has_label = len(columns) > 2 and columns[2] == "label"
        last_line = reader.line_num
        for row in reader:  # a quoted cell may span lines: count physical lines, not rows
            number, last_line = last_line + 1, reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < len(wanted):
                raise LabelFileError(path, number, f"expected {len(wanted)} columns")
            customer = row[0].strip()
            if not customer:
                raise LabelFileError(path, number, "customer_id is empty")
            try:
                as_of = int(row[1])
            except ValueError:
                raise LabelFileError(path, number, "as_of must be epoch milliseconds") from None
            if not _MIN_MS <= as_of < _MAX_MS:
                raise LabelFileError(path, number, "as_of must be epoch ms between 2000 and 2100")
            label: int | None = None
            if has_label and len(row) > 2 and row[2].strip():
                if row[2].strip() not in ("0", "1"):
                    raise LabelFileError(path, number, "label must be 0 or 1")
                label = int(row[2])
            elif require_label:
                raise LabelFileError(path, number, "label is missing")
            points.append(Point(customer, as_of, label))
    return points


def write_points(path: Path, points: Iterable[Point]) -> int:
    count = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "as_of", "label"])
        for point in points:
            writer.writerow([point.customer_id, point.as_of,
                             "" if point.label is None else point.label])
            count += 1
    return count
