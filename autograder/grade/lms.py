"""Grade files an LMS imports: OUT/lms/canvas.csv and OUT/lms/moodle.csv, made from the gradebook
(hand grades and late penalties included) and the roster nbgrader's student table holds.

Canvas (Grades > Import): the columns of its own gradebook export, `Student` ("Last, First"),
`ID` (Canvas's user id: the number in its download's file names, or the roster's lms_id),
`SIS User ID`, `SIS Login ID`, `Section`, then one column per assignment; an assignment column
Canvas does not know becomes a new assignment. Students are matched by ID.

Moodle (Grades > Import > CSV file): any columns, mapped on import; the ones of its own export
are written (`First name`, `Last name`, `ID number`, `Email address`) and a grade column. Map
"Email address" to useremail (or "ID number" to useridnumber) and the grade column to the
assignment's grade item.
"""

import csv
import io
from pathlib import Path

from .. import atomic, spreadsheet

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]


def _name(record, row):
    first, last = record.get("first_name") or "", record.get("last_name") or ""
    return first, last, (f"{last}, {first}" if first and last else last or first or row["submitted_as"])


def write(out, rows, students, assignment):
    """OUT/lms/canvas.csv and moodle.csv for the grades.csv `rows`; `students` is
    gradebook.student_records(). Returns their paths."""
    folder = Path(out) / "lms"
    folder.mkdir(exist_ok=True)
    canvas, moodle = io.StringIO(), io.StringIO()
    canvas_out, moodle_out = csv.writer(canvas, lineterminator="\n"), csv.writer(moodle, lineterminator="\n")
    canvas_out.writerow(CANVAS_COLUMNS + [assignment])
    moodle_out.writerow(MOODLE_COLUMNS + [f"Assignment: {assignment}"])
    for row in sorted(rows, key=lambda r: r["student_id"]):
        record = students.get(row["student_id"], {})
        first, last, shown = _name(record, row)
        score = f"{row['score']:g}"
        canvas_out.writerow(spreadsheet.row([shown, record.get("lms_user_id") or "", "", "", "", score]))
        moodle_out.writerow(spreadsheet.row([first or row["submitted_as"], last, row["student_id"],
                                             record.get("email") or "", score]))
    paths = folder / "canvas.csv", folder / "moodle.csv"
    atomic.write_text(paths[0], canvas.getvalue())
    atomic.write_text(paths[1], moodle.getvalue())
    return paths
