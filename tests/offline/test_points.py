"""Label / as-of CSV files: round trips and errors that carry the line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_app.offline import LabelFileError, Point, read_points, write_points

AS_OF = 1_772_409_599_999  # 2026-03-01T23:59:59.999Z, the last ms of a day
MIN_MS = 946_684_800_000
MAX_MS = 4_102_444_800_000


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def _error(path: Path, *, require_label: bool) -> LabelFileError:
    with pytest.raises(LabelFileError) as caught:
        read_points(path, require_label=require_label)
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: ")
    return caught.value


# --- round trips ---------------------------------------------------------------------------


def test_labelled_points_round_trip(tmp_path: Path) -> None:
    points = [Point("CUST-0000001", AS_OF, 0), Point("CUST-0000002", AS_OF + 86_400_000, 1),
              Point("CUST, with comma \"quoted\"", MIN_MS, 1)]
    path = tmp_path / "labels.csv"
    assert write_points(path, points) == 3
    assert path.read_text().splitlines()[0] == "customer_id,as_of,label"
    assert read_points(path, require_label=True) == points


def test_unlabelled_points_round_trip(tmp_path: Path) -> None:
    points = [Point("CUST-0000001", AS_OF), Point("CUST-0000001", MAX_MS - 1)]
    path = tmp_path / "points.csv"
    assert write_points(path, points) == 2
    assert read_points(path, require_label=False) == points


def test_points_file_without_a_label_column(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"customer_id,as_of\nC1,{AS_OF}\n C2 ,{AS_OF}\n")
    assert read_points(path, require_label=False) == [Point("C1", AS_OF), Point("C2", AS_OF)]


def test_labels_are_read_when_present_even_if_not_required(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"customer_id,as_of,label\nC1,{AS_OF},1\nC2,{AS_OF},\n")
    assert read_points(path, require_label=False) == [Point("C1", AS_OF, 1),
                                                      Point("C2", AS_OF, None)]


def test_whitespace_extra_columns_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    path = _csv(tmp_path, f" customer_id , as_of , label ,note\n\nC1, {AS_OF} , 1 ,x\n,,\n"
                          f"C2,{AS_OF},0,\n")
    assert read_points(path, require_label=True) == [Point("C1", AS_OF, 1),
                                                     Point("C2", AS_OF, 0)]


def test_header_only_file_has_no_points(tmp_path: Path) -> None:
    assert read_points(_csv(tmp_path, "customer_id,as_of,label\n"), require_label=True) == []


# --- errors with line numbers -----------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    error = _error(tmp_path / "nope.csv", require_label=True)
    assert error.line == 0
    assert "not found" in str(error)


def test_empty_file(tmp_path: Path) -> None:
    error = _error(_csv(tmp_path, ""), require_label=True)
    assert error.line == 1
    assert "header" in str(error)


@pytest.mark.parametrize(
    ("header", "require_label"),
    [("customer,as_of,label", True), ("as_of,customer_id,label", True),
     ("customer_id,as_of", True), ("customer_id,asof", False), (f"C1,{AS_OF},1", True)],
)
def test_bad_header(tmp_path: Path, header: str, require_label: bool) -> None:
    error = _error(_csv(tmp_path, f"{header}\nC1,{AS_OF},1\n"), require_label=require_label)
    assert error.line == 1
    assert "header must start with customer_id,as_of" in str(error)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("C3,2026-03-01,1", "as_of must be epoch milliseconds"),
        ("C3,1772409599999.0,1", "as_of must be epoch milliseconds"),
        ("C3,,1", "as_of must be epoch milliseconds"),
        ("C3,946684799999,1", "between 2000 and 2100"),
        ("C3,1772409599,1", "between 2000 and 2100"),  # seconds, not milliseconds
        ("C3,4102444800000,1", "between 2000 and 2100"),
        (f"C3,{AS_OF},2", "label must be 0 or 1"),
        (f"C3,{AS_OF},-1", "label must be 0 or 1"),
        (f"C3,{AS_OF},yes", "label must be 0 or 1"),
        (f"C3,{AS_OF},1.0", "label must be 0 or 1"),
        (f"C3,{AS_OF},", "label is missing"),
        (f"C3,{AS_OF}", "expected 3 columns"),
        (f" ,{AS_OF},1", "customer_id is empty"),
    ],
)
def test_bad_rows_name_their_line(tmp_path: Path, row: str, message: str) -> None:
    # header on line 1, good rows on 2 and 3, a blank line 4, the bad row on line 5
    path = _csv(tmp_path, f"customer_id,as_of,label\nC1,{AS_OF},0\nC2,{AS_OF},1\n\n{row}\n"
                          f"C4,{AS_OF},0\n")
    error = _error(path, require_label=True)
    assert error.line == 5
    assert message in str(error)


def test_missing_label_is_fine_when_labels_are_not_required(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"customer_id,as_of,label\nC1,{AS_OF},\nC2,{AS_OF}\n")
    assert read_points(path, require_label=False) == [Point("C1", AS_OF), Point("C2", AS_OF)]


def test_points_file_without_label_column_is_refused_when_labels_are_required(
    tmp_path: Path,
) -> None:
    error = _error(_csv(tmp_path, f"customer_id,as_of\nC1,{AS_OF}\n"), require_label=True)
    assert error.line == 1


def test_row_errors_do_not_quote_the_customer(tmp_path: Path) -> None:
    path = _csv(tmp_path, "customer_id,as_of,label\nJane-Doe-Secret,yesterday,1\n")
    error = _error(path, require_label=True)
    assert error.line == 2
    assert "Jane-Doe" not in str(error)


def test_line_numbers_count_physical_lines_after_a_multi_line_cell(tmp_path: Path) -> None:
    points = [Point("CUST-1\nsecond line", AS_OF, 1), Point("CUST-2", AS_OF, 0)]
    path = tmp_path / "labels.csv"
    write_points(path, points)
    assert read_points(path, require_label=True) == points
    with path.open("a") as handle:
        handle.write(f"CUST-3,{AS_OF},7\n")
    # line 1 header, lines 2-3 the quoted two-line cell, line 4 CUST-2, line 5 the bad row
    assert len(path.read_text().splitlines()) == 5
    assert _error(path, require_label=True).line == 5
