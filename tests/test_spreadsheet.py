"""CSV files an instructor opens in a spreadsheet never hold a formula a student wrote: a name or
file name starting with = + - @ is written as text (OWASP's leading quote)."""

import csv

from autograder import collect, spreadsheet
from autograder.grade import lms, report
from tests.lms_downloads import ASSIGNMENT, NOTEBOOKS

FORMULA = "=2+5+cmd|'-C calc'!A0"  # a DDE formula without a slash: it can be a file name too


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_a_cell_that_starts_like_a_formula_is_quoted_and_nothing_else_changes():
    assert [spreadsheet.cell(v) for v in (FORMULA, "+1", "-2", "@SUM(A1)", "\tx", "Ann", "", 3.5, None)] == \
        ["'" + FORMULA, "'+1", "'-2", "'@SUM(A1)", "'\tx", "Ann", "", 3.5, None]


def test_collection_csv_quotes_a_students_formula(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / f"{FORMULA}_1234_5678_1_rnn_cell_forward.ipynb").write_bytes(b"{}")
    collection = collect.collect(tmp_path / "class", ASSIGNMENT, NOTEBOOKS)
    rows = read(collection.write_csv(tmp_path / "collection.csv"))
    assert rows[1][2] == "'" + FORMULA and not any(cell.startswith("=") for row in rows for cell in row)


def test_grades_csv_and_the_lms_files_quote_a_students_formula(tmp_path):
    row = {"student_id": "evil", "submitted_as": FORMULA, "score": 1.0, "max_score": 24.0, "status": "-graded"}
    report.write_grades(tmp_path, [row], [])
    grades = read(tmp_path / "grades.csv")
    assert grades[1][1] == "'" + FORMULA and grades[1][2] == "1"
    students = {"evil": {"first_name": "@cmd", "last_name": FORMULA, "email": "+x@example.org", "lms_user_id": "1"}}
    for path in lms.write(tmp_path, [row], students, ASSIGNMENT):
        cells = [cell for line in read(path)[1:] for cell in line]
        assert not any(cell.startswith(spreadsheet.FORMULA_START) for cell in cells), (path, cells)
