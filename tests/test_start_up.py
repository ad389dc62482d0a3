"""What a grading run does once instead of again and again (issue 19): the metadata schema is
checked once per process, and what is imported for nothing is not imported."""

import shutil
import subprocess
import sys

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from autograder.course import COURSE_ID, nbgrader_config
from tests.helpers import ASSIGNMENT, ROOT, SOURCE


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
    assert _printed_by("import autograder.grade, nbformat, sys; print('rfc3987_syntax' in sys.modules and "
                       "sys.modules['rfc3987_syntax'] is not None)") == ["False"]


def _printed_by(code):
    """What Python `code`, run in a new process (nothing imported yet), prints: its words."""
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def test_grading_imports_no_setuptools_and_nbgraders_unzip_still_works(tmp_path):
    """nbgrader.utils imports setuptools' archive functions for zip_collect (0.2 s of every run's
    start-up, setuptools and pkg_resources): they are imported when first called, and then work."""
    import zipfile
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("s01/1_rnn_cell_forward.ipynb", "{}")
    code = ("import autograder.grade, autograder.__main__, sys\n"
            "print('setuptools' in sys.modules, 'pkg_resources' in sys.modules)\n"
            "from nbgrader.utils import unpack_archive\n"
            f"unpack_archive({str(archive)!r}, {str(tmp_path / 'unpacked')!r})\n"
            "print('setuptools' in sys.modules)\n")
    assert _printed_by(code) == ["False", "False", "True"]
    assert (tmp_path / "unpacked" / "s01" / "1_rnn_cell_forward.ipynb").read_text() == "{}"


def test_an_existing_gradebook_is_opened_without_importing_alembic(tmp_path):
    """alembic (0.1 s to import) is needed only to stamp a new gradebook with nbgrader's newest
    migration."""
    code = ("import sys\nfrom autograder.course import create_gradebook\n"
            f"create_gradebook('sqlite:///{tmp_path}/gradebook.db')\n"
            "print('alembic' in sys.modules)\n"
            "for name in [m for m in sys.modules if m.split('.')[0] == 'alembic']: del sys.modules[name]\n"
            f"create_gradebook('sqlite:///{tmp_path}/gradebook.db')\n"
            "print('alembic' in sys.modules)\n")
    assert _printed_by(code) == ["True", "False"]


def test_the_assignment_is_registered_again_only_when_it_changed(tmp_path, monkeypatch):
    """Each nbgrader generate_assignment costs a second or more of every run: a later run with
    the same source (grading one more student) makes none; a changed source makes both the
    template and the class gradebook again, and the gradebook has the new points."""
    from autograder import grade as grading
    from autograder.grade import gradebook
    made = _counting_generate_assignment(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # this test's alone
    course = grading.copy_source(tmp_path, SOURCE)
    db_url = f"sqlite:///{tmp_path / 'class.db'}"
    kept = tmp_path / ".registered" / "template_gradebook.db"

    def register():
        made.clear()
        grading.register_assignment(course, db_url, tmp_path / "template.db", 5, kept=kept)
        return len(made)

    grading.create_gradebook(db_url)  # as a run does first: the tables, empty
    assert register() == 1  # the template; a new class gradebook is a copy of it
    assert register() == 0
    path = next((course / "source" / ASSIGNMENT).glob("1_*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("points"))
    cell.metadata.nbgrader.points += 1
    nbformat.write(notebook, path)
    assert register() == 2
    points = {(name, kind, cell_name): rest[0] for name, kind, cell_name, *rest in gradebook.assignment_record(db_url, ASSIGNMENT)
              if kind == "grade"}
    assert points[(path.stem, "grade", cell.metadata.nbgrader.grade_id)] == cell.metadata.nbgrader.points
    assert register() == 0


def _counting_generate_assignment(monkeypatch):
    """The gradebooks nbgrader generate_assignment is run for, from now on."""
    from autograder import grade as grading
    made, real = [], grading.generate_assignment
    monkeypatch.setattr(grading, "generate_assignment", lambda root, db_url, assignment, timeout: (
        made.append(db_url), real(root, db_url, assignment, timeout))[1])
    return made


def test_a_new_out_takes_the_template_another_out_registered(tmp_path, monkeypatch):
    """A new OUT (each Gradescope submission's, a new batch's) with the source and grader of an
    earlier run makes no nbgrader generate_assignment: the template comes from the user's cache,
    and the class gradebook gets the same record of the assignment."""
    from autograder import grade as grading
    from autograder.grade import gradebook
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = _counting_generate_assignment(monkeypatch)
    records = []
    for out in (tmp_path / "first", tmp_path / "second"):
        course = grading.copy_source(out, SOURCE)
        db_url = f"sqlite:///{out / 'class.db'}"
        grading.create_gradebook(db_url)
        grading.register_assignment(course, db_url, out / "template.db", 5, kept=out / ".registered" / "t.db")
        records.append(gradebook.assignment_record(db_url, ASSIGNMENT))
    assert len(made) == 1 and records[0] == records[1] and records[0]
    assert [p.name for p in (tmp_path / "cache" / "autograder" / "registered").iterdir()] == \
        [grading.fingerprint(course, 5) + ".db"]  # whole files only, named by what they were made from
    # Another timeout is another grading: not served from the cache.
    grading.register_assignment(course, f"sqlite:///{tmp_path / 'third.db'}", tmp_path / "template.db", 7)
    assert len(made) == 2


def test_a_cache_that_cannot_be_written_costs_only_time(tmp_path, monkeypatch):
    """A user without a writable home (nobody's is /nonexistent) grades as before."""
    from autograder import grade as grading
    (tmp_path / "a file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a file"))
    made = _counting_generate_assignment(monkeypatch)
    for out in (tmp_path / "first", tmp_path / "second"):
        course = grading.copy_source(out, SOURCE)
        grading.register_assignment(course, f"sqlite:///{out / 'class.db'}", out / "template.db", 5)
    assert len(made) == 2 and (tmp_path / "second" / "template.db").stat().st_size > 0


def _registered(tmp_path):
    from autograder import grade as grading
    course = grading.copy_source(tmp_path, SOURCE)
    db_url = f"sqlite:///{tmp_path / 'class.db'}"
    grading.register_assignment(course, db_url, tmp_path / "template.db", 5)
    return course, db_url


def _result(course, student):
    """A result as a worker returns it: the source notebooks, as if run, for every notebook."""
    return {"student_id": student, "assignment": ASSIGNMENT, "notes": [], "log": "", "notebooks": {
        path.stem: {"problem": None, "autograded": path.read_text(), "feedback": None}
        for path in sorted((course / "source" / ASSIGNMENT).glob("*.ipynb"))}}


def test_a_student_is_recorded_whole_or_not_at_all(tmp_path, monkeypatch):
    """nbgrader's SaveAutoGrades commits after every cell: a kill between two notebooks left the
    first notebooks' grades in the gradebook and the others missing. The student's grades are
    written in one transaction."""
    from autograder.grade import gradebook
    course, db_url = _registered(tmp_path)
    reads, calls = gradebook._graded_cells, []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a kill (Ctrl-C) in the middle of the student
        return reads(*args, **kwargs)
    monkeypatch.setattr(gradebook, "_graded_cells", second_fails)
    with pytest.raises(KeyboardInterrupt):
        gradebook.record(db_url, _result(course, "s1"))
    monkeypatch.setattr(gradebook, "_graded_cells", reads)
    with gradebook.Gradebook(db_url, COURSE_ID) as gb:
        assert [g for n in gb.find_assignment(ASSIGNMENT).notebooks for g in n.grade_cells]  # registered
        recorded = [grade.auto_score for submission in gb.find_assignment(ASSIGNMENT).submissions
                    for notebook in submission.notebooks for grade in notebook.grades if grade.auto_score is not None]
    assert recorded == []
    gradebook.record(db_url, _result(course, "s1"))
    assert all(score.score == score.max_score for score in gradebook.class_scores(db_url, ASSIGNMENT)["s1"].values())


def test_a_result_that_cannot_be_recorded_stops_neither_its_batch_nor_the_run(tmp_path):
    """Results that came in together are recorded in one transaction. One the grader cannot
    record (a grader bug) used to stop the run: now the others of its batch are recorded, and it
    is recorded with no scores and an error, so that results and feedback say why and the next
    run grades it again."""
    from autograder import grade as grading
    from autograder.grade import gradebook
    course, db_url = _registered(tmp_path)
    broken = _result(course, "s2")
    broken["notebooks"]["2_rnn_forward"]["autograded"] = "not a notebook"
    gradebook.record_all(db_url, [(_result(course, "s1"), None, None), (broken, None, None),
                                  (_result(course, "s3"), None, None)])
    assert gradebook.students(db_url, ASSIGNMENT) == ["s1", "s2", "s3"]
    for student in ("s1", "s3"):
        assert all(score.score == score.max_score for score in gradebook.class_scores(db_url, ASSIGNMENT)[student].values())
    assert all(score.score == 0 for score in gradebook.class_scores(db_url, ASSIGNMENT)["s2"].values())
    assert broken["error"].startswith("internal grader error") and not grading.graded_fully(broken)


def test_files_linked_from_the_course_are_never_written_through(tmp_path):
    """The course's figures and modules are hard-linked into each student's folders; the files
    the grader then writes there (feedback pages, timestamp.txt) are never links, even when the
    source holds a file of that name: a write through a link would reach every student's copy."""
    import shutil
    from autograder import collect, grade as grading
    source = tmp_path / "source" / ASSIGNMENT
    shutil.copytree(ROOT / "source" / ASSIGNMENT, source)
    (source / "2_rnn_forward.html").write_text("the instructor's export")
    (source / "timestamp.txt").write_text("the instructor's")
    out = tmp_path / "out"
    course = grading.copy_source(out, source)
    notebooks = sorted((course / "source" / ASSIGNMENT).glob("*.ipynb"))
    for student in ("s1", "s2"):
        result = {"student_id": student, "assignment": ASSIGNMENT, "notes": [], "log": "", "notebooks": {
            path.stem: {"problem": None, "autograded": path.read_text(), "feedback": f"page of {student}"}
            for path in notebooks}}
        grading._save(out, course, collect.Submission(student, {}, "2026-11-30 10:00:00 UTC"), result, "key")
    assert (course / "source" / ASSIGNMENT / "2_rnn_forward.html").read_text() == "the instructor's export"
    assert (course / "source" / ASSIGNMENT / "timestamp.txt").read_text() == "the instructor's"
    for student in ("s1", "s2"):
        feedback = course / "feedback" / student / ASSIGNMENT
        assert (feedback / "2_rnn_forward.html").read_text() == f"page of {student}"
        assert (feedback / "timestamp.txt").read_text() == "2026-11-30 10:00:00 UTC"
        assert (feedback / "images" / "lstm_cell.png").stat().st_nlink > 1  # linked, not copied


def test_a_kept_template_killed_while_being_replaced_is_not_used(tmp_path, monkeypatch):
    """A run on a changed source killed after keeping its template, before its key: the next run
    on the first source must not take that template for its own (its test cells would come back
    from the other source)."""
    from autograder import grade as grading
    made = _counting_generate_assignment(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # this test's alone
    course = grading.copy_source(tmp_path, SOURCE)
    kept = tmp_path / ".registered" / "template_gradebook.db"

    def register(db):
        made.clear()
        grading.register_assignment(course, f"sqlite:///{tmp_path / db}", tmp_path / "template.db", 5, kept=kept)
        return len(made)

    assert register("a.db") == 1
    path = next((course / "source" / ASSIGNMENT).glob("1_*.ipynb"))
    original = path.read_text()
    notebook = nbformat.read(path, as_version=4)
    next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("points")).metadata.nbgrader.points += 1
    nbformat.write(notebook, path)
    replace = grading.os.replace

    def killed_before_the_key(source, target):
        if str(target).endswith(".key"):
            raise KeyboardInterrupt
        return replace(source, target)
    monkeypatch.setattr(grading.os, "replace", killed_before_the_key)
    with pytest.raises(KeyboardInterrupt):
        register("b.db")
    monkeypatch.setattr(grading.os, "replace", replace)
    path.write_text(original)
    shutil.rmtree(tmp_path / "cache")  # (which holds the first source's template, named by its key)
    assert register("c.db") == 1  # the template made again, not the changed source's
    from autograder.grade import gradebook
    assert gradebook.assignment_record(f"sqlite:///{tmp_path / 'c.db'}", ASSIGNMENT) == \
        gradebook.assignment_record(f"sqlite:///{tmp_path / 'a.db'}", ASSIGNMENT)


def test_the_class_scores_in_one_query_are_each_students_scores(tmp_path):
    """The reports read the whole class's scores in two queries; they are exactly what nbgrader's
    objects give student by student: a hand grade with extra credit, a missing notebook."""
    from autograder.grade import gradebook
    course, db_url = _registered(tmp_path)
    partial = _result(course, "s2")
    partial["notebooks"]["3_rnn_backward"].update(autograded=None, problem="3_rnn_backward.ipynb was not submitted")
    gradebook.record_all(db_url, [(_result(course, "s1"), None, None), (partial, None, None)])
    with gradebook.Gradebook(db_url, COURSE_ID) as gb:
        notebooks = gb.find_submission(ASSIGNMENT, "s1").notebooks
        grade = notebooks[0].grades[0]
        grade.manual_score, grade.extra_credit = 0.5, 1.0
        gb.db.commit()
    each = {student: _scores_through_nbgraders_objects(db_url, student) for student in ("s1", "s2")}
    assert gradebook.class_scores(db_url, ASSIGNMENT) == each
    assert any(score.by_hand and score.score == 1.5 for score in each["s1"].values())


def _scores_through_nbgraders_objects(db_url, student):
    """What the reports read before: {(notebook, grade_id): Score} from nbgrader's own objects."""
    from autograder.grade import gradebook
    found = {}
    with gradebook.Gradebook(db_url, COURSE_ID) as gb:
        for notebook in gb.find_submission(ASSIGNMENT, student).notebooks:
            comments = {comment.name: comment.manual_comment or "" for comment in notebook.comments}
            for grade in notebook.grades:
                found[(notebook.name, grade.name)] = gradebook.Score(
                    float(grade.score or 0), float(grade.max_score),
                    pending=grade.auto_score is None and grade.manual_score is None,
                    by_hand=grade.manual_score is not None, comment=comments.get(grade.name, ""))
    return found


def test_a_student_another_run_records_while_the_reports_are_written_is_left_for_its_run(tmp_path, monkeypatch):
    """Two runs on one gradebook: a student the other run recorded between the reports' queries
    (here, just after the lateness was read) made the reports fail on a KeyError, and the run exit 1
    (CI saw it once). The reports now take the class first; that student is the other run's."""
    from autograder import grade as grading
    from autograder.grade import gradebook
    course, db_url = _registered(tmp_path)
    gradebook.record_all(db_url, [(_result(course, "s1"), None, None)])
    read = gradebook.class_lateness

    def meanwhile(*args):
        found = read(*args)
        if not any(student == "s2" for student in gradebook.students(db_url, ASSIGNMENT)):
            gradebook.record_all(db_url, [(_result(course, "s2"), None, None)])  # the other run, meanwhile
        return found
    monkeypatch.setattr(gradebook, "class_lateness", meanwhile)
    rows = grading.write_reports(tmp_path, course, db_url, log=lambda *a: None)
    assert [row["student_id"] for row in rows] == ["s1"]
