"""The class gradebook: nbgrader's own database, written only by the coordinating process.

Scores are written by nbgrader's SaveAutoGrades preprocessor from the autograded
notebooks the workers return, so the verdicts are nbgrader's, and formgrader and
`nbgrader export` read the same database.
"""

import fcntl
import hashlib
from contextlib import contextmanager
from pathlib import Path

import nbformat
import sqlalchemy
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades
from nbgrader.utils import parse_utc

from ..course import ASSIGNMENT, COURSE_ID


@contextmanager
def writing(db_url):
    """Hold the gradebook's writer lock: two grading runs on one gradebook (two instructors,
    or a re-run started before the last one ended) take turns for each write, instead of
    both creating the same student, submission or assignment rows at once. PostgreSQL: a
    session advisory lock; SQLite: an flock on a file beside the database."""
    if db_url.startswith("postgresql"):
        engine = sqlalchemy.create_engine(db_url, poolclass=sqlalchemy.pool.NullPool)
        key = int.from_bytes(hashlib.sha256(f"nbgrader gradebook {COURSE_ID}".encode()).digest()[:8], "big", signed=True)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        engine.dispose()
    elif db_url.startswith("sqlite:///"):
        with open(Path(db_url[len("sqlite:///"):] + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:  # another database: its own transactions only
        yield


def record(db_url, result, timestamp=None):
    """Store one worker result; every grade cell of the assignment ends with a score."""
    with writing(db_url):
        _record(db_url, result, timestamp)


def _record(db_url, result, timestamp):
    student = result["student_id"]
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.update_or_create_student(student)
        extra = {"timestamp": parse_utc(timestamp)} if timestamp else {}
        submission = gb.update_or_create_submission(ASSIGNMENT, student, **extra)
        # A re-grade starts clean, so that a cell deleted since the last grading keeps no old score.
        # Manual scores given in formgrader are left alone.
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = None
        gb.db.commit()
    for name, entry in result["notebooks"].items():
        if entry.get("autograded"):
            resources = {"nbgrader": {"notebook": name, "assignment": ASSIGNMENT, "student": student,
                                      "db_url": db_url}}
            SaveAutoGrades().preprocess(nbformat.reads(entry["autograded"], as_version=4), resources)
    with Gradebook(db_url, COURSE_ID) as gb:
        # Missing, unreadable or crashed notebooks, and deleted test cells, score zero (as nbgrader does
        # for a missing notebook) rather than waiting for a manual grade that nobody will give.
        for notebook in gb.find_submission(ASSIGNMENT, student).notebooks:
            for grade in notebook.grades:
                if grade.auto_score is None and grade.manual_score is None:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()


def scores(db_url, student):
    """{(notebook, grade_id): (score, max_score)} for one student, as the gradebook has them."""
    with Gradebook(db_url, COURSE_ID) as gb:
        return {(notebook.name, grade.name): (float(grade.score or 0), float(grade.max_score))
                for notebook in gb.find_submission(ASSIGNMENT, student).notebooks
                for grade in notebook.grades}
