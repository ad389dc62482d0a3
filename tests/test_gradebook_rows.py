"""The coordinator writes a batch's gradebook rows itself (issue 19: nbgrader's ORM took 20 ms a
result). Those rows must be exactly the ones nbgrader's own way makes: Gradebook's
update_or_create_student and update_or_create_submission (add_submission), then nbgrader's
SaveAutoGrades, with the grader's two rules around it (a re-grade starts clean; what nothing
scored is 0). Both ways record the same results into gradebooks of the same assignment, on SQLite
and on PostgreSQL, and every row of every table is compared."""

import datetime

import nbformat
import pytest
import sqlalchemy
from nbgrader.api import (BaseCell, Comment, Grade, Gradebook, Notebook, Student, SubmittedAssignment,
                          SubmittedNotebook)
from nbgrader.preprocessors import SaveAutoGrades
from nbgrader.utils import compute_checksum, parse_utc

from autograder.course import COURSE_ID, create_gradebook
from autograder.grade import gradebook
from autograder.roster import Student as Known
from tests import postgres

ASSIGNMENT = "ps1"
# (notebook, cell name, kind, cell type, points): a test, an answer, a written answer, a task.
CELLS = [("nb1", "answer", "solution", "code", None), ("nb1", "test_pass", "grade", "code", 2),
         ("nb1", "test_error", "grade", "code", 1), ("nb1", "test_partial", "grade", "code", 3),
         ("nb1", "written", "grade solution", "markdown", 2), ("nb1", "task", "task", "markdown", 1),
         ("nb2", "answer_b", "solution", "code", None), ("nb2", "test_b", "grade", "code", 1)]


def _register(db_url):
    create_gradebook(db_url)
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.add_assignment(ASSIGNMENT)
        for notebook in ("nb1", "nb2"):
            gb.add_notebook(notebook, ASSIGNMENT)
        for notebook, name, kind, cell_type, points in CELLS:
            if "grade" in kind:
                gb.add_grade_cell(name, notebook, ASSIGNMENT, max_score=points, cell_type=cell_type)
            if "solution" in kind:
                gb.add_solution_cell(name, notebook, ASSIGNMENT)
            if kind == "task":
                gb.add_task_cell(name, notebook, ASSIGNMENT, max_score=points, cell_type=cell_type)


def _autograded(notebook, answered=(), deleted=()):
    """The notebook as nbgrader's autograde leaves it: `answered` cells changed since release
    (the others keep the released checksum: no response), tests passing except test_error (a
    traceback) and test_partial (1.5 of 3 points), `deleted` cells gone."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("An ungraded cell."))
    for in_notebook, name, kind, cell_type, points in CELLS:
        if in_notebook != notebook or name in deleted:
            continue
        meta = {"grade": "grade" in kind, "solution": "solution" in kind, "task": kind == "task",
                "locked": "solution" not in kind, "grade_id": name, "schema_version": 3}
        if points is not None:
            meta["points"] = points
        new = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
        cell = new("# YOUR ANSWER HERE\n", metadata={"nbgrader": meta})
        cell.metadata.nbgrader.checksum = compute_checksum(cell)
        if name in answered:
            cell.source = "an answer\nover two lines"
        if name == "test_error":
            cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
        if name == "test_partial":
            cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "1.5"}, execution_count=1)]
        nb.cells.append(cell)
    return nbformat.writes(nb)


def _result(student, missing=(), **changes):
    return {"student_id": student, "assignment": ASSIGNMENT, "notebooks": {
        name: {"autograded": None if name in missing else _autograded(name, **changes)} for name in ("nb1", "nb2")}}


EVERYTHING = ("answer", "written", "answer_b", "task")
FIRST = [(_result("s1", answered=EVERYTHING), "2026-11-30 10:00:00 UTC",
          Known("s1", "Ada", "Lovelace", "ada@example.org", "lms-1", extension_hours=24)),
         (_result("s2", missing=("nb2",)), None, None),  # nb2 not submitted, the written answer left blank
         (_result("s3", answered=("answer",)), "2026-11-30 11:00:00 +0100", Known("s3", first_name="Cy"))]
# Graded again after formgrader's hand grades: s1's written answer deleted and a test cell gone, s2's
# second notebook there now, s3 twice in one batch (its second result over its first), s4 new.
SECOND = [(_result("s1", answered=("answer",), deleted=("written", "test_partial")), "2026-12-01 09:00:00 UTC",
           Known("s1", "Ada", "King", extension_hours=48)),
          (_result("s2", answered=("answer_b", "written")), None, None),
          (_result("s3", answered=EVERYTHING), None, Known("s3", first_name="Cyd")),
          (_result("s4", missing=("nb1", "nb2")), None, None),
          (_result("s3", answered=("written",), deleted=("task",)), "2026-12-02 09:00:00 UTC", None)]


def _by_hand(db_url):
    """What an instructor does in formgrader between the two runs."""
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.find_grade("written", "nb1", ASSIGNMENT, "s1").manual_score = 1.5
        gb.find_grade("test_error", "nb1", ASSIGNMENT, "s1").extra_credit = 0.5
        gb.find_grade("test_pass", "nb1", ASSIGNMENT, "s1").manual_score = 1
        gb.find_grade("task", "nb1", ASSIGNMENT, "s3").manual_score = 1
        gb.find_comment("answer", "nb1", ASSIGNMENT, "s1").manual_comment = "Nice."
        gb.db.commit()


def _nbgraders_way(db_url, entries):
    """The grader's recording before the batched writes, on nbgrader's objects and its own
    SaveAutoGrades (which commits after every cell)."""
    for result, timestamp, known in entries:
        student = result["student_id"]
        with Gradebook(db_url, COURSE_ID) as gb:
            gb.update_or_create_student(student, **(known.gradebook_fields() if known else {}))
            extra = {"timestamp": parse_utc(timestamp)} if timestamp else {}
            submission = gb.update_or_create_submission(ASSIGNMENT, student, **extra)
            if known and known.extension_hours:
                submission.extension = datetime.timedelta(hours=known.extension_hours)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score, grade.needs_manual_grade = None, False
            gb.db.commit()
        for name, entry in result["notebooks"].items():
            if entry["autograded"]:
                resources = {"nbgrader": {"notebook": name, "assignment": ASSIGNMENT, "student": student,
                                          "db_url": db_url}}
                SaveAutoGrades().preprocess(nbformat.reads(entry["autograded"], as_version=4), resources)
        with Gradebook(db_url, COURSE_ID) as gb:
            for notebook in gb.find_submission(ASSIGNMENT, student).notebooks:
                for grade in notebook.grades:
                    if grade.auto_score is None and grade.manual_score is None and not grade.needs_manual_grade:
                        grade.auto_score = 0
            gb.db.commit()


def _rows(db_url):
    """Every row of the tables a recording writes, by names instead of generated ids."""
    with Gradebook(db_url, COURSE_ID) as gb:
        db = gb.db
        ids = [len(row.id) for table in (SubmittedAssignment, SubmittedNotebook, Grade, Comment)
               for row in db.query(table)]
        assert set(ids) == {32}  # nbgrader's uuid4().hex
        students = sorted((s.id, s.first_name, s.last_name, s.email, s.lms_user_id) for s in db.query(Student))
        submissions = sorted((s.assignment.name, s.student_id, s.timestamp, s.extension)
                             for s in db.query(SubmittedAssignment))
        notebooks = sorted((n.assignment.student_id, n.notebook.name, n.flagged, n.late_submission_penalty)
                           for n in db.query(SubmittedNotebook))
        grades = sorted((g.notebook.assignment.student_id, g.notebook.notebook.name, g.cell.name, g.cell.type,
                         g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade, g.score)
                        for g in db.query(Grade))
        comments = sorted((c.notebook.assignment.student_id, c.notebook.notebook.name, c.cell.name, c.cell.type,
                           c.auto_comment, c.manual_comment) for c in db.query(Comment))
        cells = db.query(BaseCell).count(), db.query(Notebook).count()
    return {"students": students, "submissions": submissions, "notebooks": notebooks, "grades": grades,
            "comments": comments, "cells": cells}


def _compare(ours, theirs):
    for db_url in (ours, theirs):
        _register(db_url)
    gradebook.record_all(ours, FIRST)
    _nbgraders_way(theirs, FIRST)
    first = _rows(ours)
    assert first == _rows(theirs)
    for db_url in (ours, theirs):
        _by_hand(db_url)
    gradebook.record_all(ours, SECOND)
    _nbgraders_way(theirs, SECOND)
    second = _rows(ours)
    assert second == _rows(theirs)
    # The cases are there: a written answer waiting for its grade, a blank one at 0 with nbgrader's
    # comment, a missing notebook and a deleted cell at 0, a hand grade kept and flagged for review.
    grades = {(student, nb, cell): (auto, manual, flagged) for student, nb, cell, _, auto, manual, _, flagged, _
              in first["grades"]}
    assert grades[("s1", "nb1", "written")] == (None, None, True)
    assert grades[("s2", "nb1", "written")] == (0, None, False)
    assert ("s2", "nb1", "written", "SolutionCell", "No response.", None) in first["comments"]
    assert grades[("s2", "nb2", "test_b")] == (0, None, False)
    assert grades[("s1", "nb1", "test_partial")] == (1.5, None, False)
    grades = {(student, nb, cell): (auto, manual, flagged) for student, nb, cell, _, auto, manual, _, flagged, _
              in second["grades"]}
    assert grades[("s1", "nb1", "written")] == (None, 1.5, False)
    assert grades[("s1", "nb1", "test_partial")] == (0, None, False)
    assert grades[("s1", "nb1", "test_error")] == (0, None, False)
    assert grades[("s3", "nb1", "task")] == (None, 1, False)
    assert grades[("s1", "nb1", "test_pass")] == (2, 1, True)
    assert len(second["students"]) == 4


def test_the_batched_rows_are_nbgraders_on_sqlite(tmp_path):
    _compare(f"sqlite:///{tmp_path / 'ours.db'}", f"sqlite:///{tmp_path / 'theirs.db'}")


@pytest.mark.skipif(postgres.unavailable() is not None, reason=postgres.unavailable() or "")
def test_the_batched_rows_are_nbgraders_on_postgresql(tmp_path):
    with postgres.server(tmp_path) as ours:
        theirs = ours.rsplit("/", 1)[0] + "/theirs"
        engine = sqlalchemy.create_engine(ours.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("CREATE DATABASE theirs"))
        engine.dispose()
        _compare(ours, theirs)
