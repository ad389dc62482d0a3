"""The course roster (`--roster roster.csv`): who the students are, for nbgrader's student table
(names, emails, LMS user ids, which formgrader and `nbgrader export` show) and for extensions.

Columns (a header row; only `id` is required, the rest may be empty or absent):
id, name (or first_name and last_name), email, lms_id (Canvas's or Moodle's user id),
extension_hours (added to the due date for that student, nbgrader's SubmittedAssignment.extension).
A submission is the roster student's whose id, email or lms_id it was submitted under.
"""

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from .collect import safe_id

ROSTER_LIMIT = 16 * 2**20   # bytes: a class of 100,000 is well under


class RosterError(ValueError):
    """The roster cannot be used (the instructor's side)."""


@dataclass(frozen=True)
class Student:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    lms_user_id: str | None = None
    extension_hours: float = 0.0

    def gradebook_fields(self):
        """nbgrader's Student columns this record knows."""
        return {key: value for key, value in (("first_name", self.first_name), ("last_name", self.last_name),
                                               ("email", self.email), ("lms_user_id", self.lms_user_id)) if value}


def split_name(name):
    """(first names, last name) of a full name."""
    parts = name.split()
    return (" ".join(parts[:-1]) or None, parts[-1]) if parts else (None, None)


def read(path):
    """[Student] from a roster CSV; RosterError (one sentence) when it cannot be used."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(ROSTER_LIMIT + 1)
    except OSError as error:
        raise RosterError(f"cannot read the roster {path}: {error.strerror or error}.") from None
    if len(data) > ROSTER_LIMIT:
        raise RosterError(f"the roster {path} is over {ROSTER_LIMIT // 2**20} MiB: pass a CSV of the class.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"the roster {path} is not UTF-8 text: save it as CSV (UTF-8).") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    header = {key.strip().lower() for key in (rows[0].keys() if rows else []) if key}
    if "id" not in header:
        raise RosterError(f"the roster {path} has no id column: its header must name id (and may name name, "
                          f"first_name, last_name, email, lms_id, extension_hours).")
    students, seen = [], set()
    for number, row in enumerate(rows, start=2):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()
               if isinstance(value, str)}
        if not row.get("id"):
            raise RosterError(f"line {number} of the roster {path} has no id.")
        if row["id"] in seen:
            raise RosterError(f"line {number} of the roster {path} repeats the id {row['id']!r}.")
        seen.add(row["id"])
        first, last = row.get("first_name") or None, row.get("last_name") or None
        if not (first or last) and row.get("name"):
            first, last = split_name(row["name"])
        try:
            extension = float(row.get("extension_hours") or 0)
        except ValueError:
            extension = None
        if extension is None or not math.isfinite(extension) or extension < 0:
            raise RosterError(f"line {number} of the roster {path}: extension_hours {row['extension_hours']!r} "
                              f"is not a number of hours (0 or more).")
        students.append(Student(row["id"], first, last, row.get("email") or None, row.get("lms_id") or None,
                                extension))
    return students


def match(submissions, students):
    """{student_id: Student} for the submissions whose id or submitted_as is a roster student's
    id, whose email is their email, or whose LMS user id is their lms_id: like with like only (a
    number can be one student's SIS id and another's Canvas id). A submission whose keys point to
    two students is matched to neither. A matched submission takes the roster's id (made safe for
    nbgrader), unless another submission holds it already."""
    ids, emails, lms_ids = {}, {}, {}
    for student in students:
        for key in (student.id, safe_id(student.id)):
            ids.setdefault(key.lower(), student)
        if student.email:
            emails.setdefault(student.email.lower(), student)
        if student.lms_user_id:
            lms_ids.setdefault(student.lms_user_id.lower(), student)
    found, taken = {}, {s.student_id for s in submissions}
    for submission in submissions:
        pairs = ((ids, submission.student_id), (ids, submission.submitted_as),
                 (emails, getattr(submission, "email", None)), (lms_ids, submission.lms_user_id))
        candidates = {table[key.lower()] for table, key in pairs if key and key.lower() in table}
        if len(candidates) != 1:
            continue
        student, = candidates
        wanted = safe_id(student.id)
        if wanted != submission.student_id and wanted not in taken:
            taken.discard(submission.student_id)
            taken.add(wanted)
            submission.student_id = wanted
        found[submission.student_id] = student
    return found
