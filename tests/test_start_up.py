"""What a grading run does once instead of again and again (issue 19): the metadata schema is
checked once per process, and what is imported for nothing is not imported."""

import subprocess
import sys

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from autograder.course import ASSIGNMENT, COURSE_ID, nbgrader_config
from tests.helpers import ROOT


def _notebook(*metadata):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": meta}) for meta in metadata]
    return nb


GOOD = {"grade": False, "grade_id": "a", "locked": False, "schema_version": 3, "solution": True, "task": False}


def test_the_metadata_schema_is_checked_once_per_process(monkeypatch):
    nbgrader_config()  # configures nbgrader's pipelines
    checks = []
    check = jsonschema.Draft7Validator.check_schema.__func__
    for cls in (jsonschema.Draft4Validator, jsonschema.Draft7Validator, jsonschema.Draft202012Validator):
        monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s: (checks.append(c), check(c, s))))
    for _ in range(3):
        MetadataValidator().validate_nb(_notebook(GOOD, dict(GOOD, grade_id="b"), dict(GOOD, grade_id="c")))
    assert len(checks) <= 1  # nbgrader's own code: once per cell, 9 here


def test_bad_metadata_fails_as_before():
    nbgrader_config()
    bad = dict(GOOD, points="many", grade=True)
    with pytest.raises(ValidationError) as ours:
        MetadataValidator().validate_nb(_notebook(bad))
    with pytest.raises(ValidationError) as plain:
        jsonschema.validate(bad, MetadataValidator().schema)
    assert ours.value.message == plain.value.message


def test_grading_imports_no_rfc3987_grammar():
    """jsonschema builds rfc3987_syntax's grammar on import (a second of every run's start-up)
    for a format none of our schemas uses."""
    code = "import autograder.grade, nbformat, sys; print('rfc3987_syntax' in sys.modules and " \
           "sys.modules['rfc3987_syntax'] is not None)"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_the_assignment_is_registered_again_only_when_it_changed(tmp_path, monkeypatch):
    """Each nbgrader generate_assignment costs a second or more of every run: a later run with
    the same source (grading one more student) makes none; a changed source makes both the
    template and the class gradebook again, and the gradebook has the new points."""
    from autograder import grade as grading
    from autograder.grade import gradebook
    made = []
    real = grading.generate_assignment
    monkeypatch.setattr(grading, "generate_assignment", lambda root, db_url, timeout: (made.append(db_url),
                                                                                          real(root, db_url, timeout))[1])
    course = grading.copy_source(tmp_path)
    db_url = f"sqlite:///{tmp_path / 'class.db'}"
    kept = tmp_path / ".registered" / "template_gradebook.db"

    def register():
        made.clear()
        grading.register_assignment(course, db_url, tmp_path / "template.db", 5, kept=kept)
        return len(made)

    assert register() == 1  # the template; a new class gradebook is a copy of it
    assert register() == 0
    path = next((course / "source" / ASSIGNMENT).glob("1_*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("points"))
    cell.metadata.nbgrader.points += 1
    nbformat.write(notebook, path)
    assert register() == 2
    points = {(name, kind, cell_name): rest[0] for name, kind, cell_name, *rest in gradebook.assignment_record(db_url)
              if kind == "grade"}
    assert points[(path.stem, "grade", cell.metadata.nbgrader.grade_id)] == cell.metadata.nbgrader.points
    assert register() == 0


def _registered(tmp_path):
    from autograder import grade as grading
    course = grading.copy_source(tmp_path)
    db_url = f"sqlite:///{tmp_path / 'class.db'}"
    grading.register_assignment(course, db_url, tmp_path / "template.db", 5)
    return course, db_url


def _result(course, student):
    """A result as a worker returns it: the source notebooks, as if run, for every notebook."""
    return {"student_id": student, "notes": [], "log": "", "notebooks": {
        path.stem: {"problem": None, "autograded": path.read_text(), "feedback": None}
        for path in sorted((course / "source" / ASSIGNMENT).glob("*.ipynb"))}}


def test_a_student_is_recorded_whole_or_not_at_all(tmp_path, monkeypatch):
    """nbgrader's SaveAutoGrades commits after every cell: a crash (or a kill) between two
    notebooks left the first notebooks' grades in the gradebook and the others missing. The
    student's grades are written in one transaction."""
    from autograder.grade import gradebook
    course, db_url = _registered(tmp_path)
    reads, calls = nbformat.reads, []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return reads(*args, **kwargs)
    monkeypatch.setattr(gradebook.nbformat, "reads", second_fails)
    with pytest.raises(RuntimeError):
        gradebook.record(db_url, _result(course, "s1"))
    monkeypatch.setattr(gradebook.nbformat, "reads", reads)
    with gradebook.Gradebook(db_url, COURSE_ID) as gb:
        assert [g for n in gb.find_assignment(ASSIGNMENT).notebooks for g in n.grade_cells]  # registered
        recorded = [grade.auto_score for submission in gb.find_assignment(ASSIGNMENT).submissions
                    for notebook in submission.notebooks for grade in notebook.grades if grade.auto_score is not None]
    assert recorded == []
    gradebook.record(db_url, _result(course, "s1"))
    assert all(score.score == score.max_score for score in gradebook.scores(db_url, "s1").values())


def test_results_recorded_together_are_recorded_all_or_none(tmp_path, monkeypatch):
    """Results that came in together are recorded in one transaction: one that cannot be
    recorded leaves the others of its batch unrecorded too (graded again on the next run, since
    their state is written after the commit), never half of a student."""
    from autograder.grade import gradebook
    course, db_url = _registered(tmp_path)
    broken = _result(course, "s2")
    broken["notebooks"]["2_rnn_forward"]["autograded"] = "not a notebook"
    with pytest.raises(Exception):
        gradebook.record_all(db_url, [(_result(course, "s1"), None, None), (broken, None, None)])
    assert gradebook.students(db_url) == []
    gradebook.record_all(db_url, [(_result(course, "s1"), None, None), (_result(course, "s2"), None, None)])
    assert gradebook.students(db_url) == ["s1", "s2"]
