"""Issue 18: roster, due date and late policy (nbgrader's late-submission plugins, configured),
the LMS's lateness marks, and the Canvas and Moodle grade files, fast unit tests first, then one
class graded in two batches into one OUT."""

import csv
import json
import shutil
import sqlite3
import sys

import jsonschema
import pytest
from nbgrader.preprocessors import AssignLatePenalties

from autograder import collect, late, roster
from autograder.grade import report
from autograder.grade.gradebook import Lateness, Score
from autograder.gradescope import SCHEMA
from tests.helpers import ROOT, grade
from tests.lms_downloads import NOTEBOOKS, lay_out, notebook, zip_bytes

ASSIGNMENT = "rnn_step_by_step"
COMPLETE = ROOT / "tests" / "fixtures" / "class" / "s01_complete" / ASSIGNMENT


def validate(results):
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(results)


# --- Gradescope's results format (the bugs the issue measured) ---

def _report(notebooks, scores=None, seconds=3.6, late_record=None):
    cells = [report.GradeCell("1_rnn_cell_forward", "rnn_cell_forward_shapes", 1.0, False),
             report.GradeCell("1_rnn_cell_forward", "rnn_cell_forward_values", 2.0, False),
             report.GradeCell("2_rnn_forward", "explain", 2.0, True)]
    result = {"student_id": "ann", "notebooks": notebooks, "notes": [], "seconds": seconds}
    return report.student_report(result, scores or {}, cells, late=late_record)


def test_results_follow_gradescopes_specification():
    # the invalid-JSON case: the notebook's problem quotes the student's own file
    problem = "1_rnn_cell_forward.ipynb is not a valid notebook (<script>alert(1)</script>)"
    scores = {("2_rnn_forward", "explain"): Score(0.0, 2.0, pending=True)}
    results, row = _report({"1_rnn_cell_forward": {"problem": problem}}, scores)
    validate(results)  # no top-level max_score, no tests[].notebook, no "pending" status
    assert results["execution_time"] == 4 and isinstance(results["execution_time"], int)
    assert results["output_format"] == "text" and results["stdout_visibility"] == "hidden"
    assert all(t["output_format"] == "text" for t in results["tests"])
    assert [(t["number"], t["tags"]) for t in results["tests"]] == [
        ("1.1", ["1_rnn_cell_forward"]), ("1.2", ["1_rnn_cell_forward"]), ("2.1", ["2_rnn_forward"])]
    assert {t["visibility"] for t in results["tests"]} == {"after_due_date"}
    written = results["tests"][2]
    assert "status" not in written and written["score"] == 0  # waiting for a grade: neither passed nor failed
    assert "awaiting manual grading (2 points)" in row["status"]


def test_schema_rejects_what_the_specification_does_not_name():
    results, _ = _report({})
    for broken in ({**results, "max_score": 5}, {**results, "execution_time": 1.5},
                   {**results, "output_format": "pdf"},
                   {**results, "tests": [{**results["tests"][0], "notebook": "1_rnn_cell_forward"}]},
                   {**results, "tests": [{**results["tests"][0], "status": "pending"}]}):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_a_late_penalty_lowers_the_score_and_says_so():
    import datetime
    scores = {("1_rnn_cell_forward", "rnn_cell_forward_shapes"): Score(1.0, 1.0),
              ("1_rnn_cell_forward", "rnn_cell_forward_values"): Score(2.0, 2.0)}
    when = datetime.datetime(2026, 12, 2, 13, 0)
    results, row = _report({}, scores, late_record=Lateness(when, 25 * 3600, 0.6))
    validate(results)
    assert results["score"] == pytest.approx(2.4) and row["score"] == pytest.approx(2.4)
    assert row["late_penalty"] == 0.6 and row["submitted_at"] == "2026-12-02 13:00:00 UTC"
    assert "Late by 25.0 hours: 0.6 points taken off" in results["output"]


# --- nbgrader's plugins, configured ---

@pytest.mark.parametrize("policy, seconds_late, score, penalty", [
    ("none", 3600, 10, None), ("zero", 3600, 10, 10), ("10%/day", 3600, 10, 1.0), ("10%/day", 25 * 3600, 10, 2.0),
    ("2%/hour", 3 * 3600 + 1, 5, 0.4), ("50%/day", 30 * 86400, 4, 4)])
def test_late_policies_are_nbgraders_plugins(policy, seconds_late, score, penalty):
    preprocessor = AssignLatePenalties(config=late.config(policy))
    preprocessor.init_plugin()
    assert preprocessor.plugin_inst.late_submission_penalty("ann", score, seconds_late) == penalty


def test_unknown_late_policy_is_refused():
    with pytest.raises(ValueError, match="10%/day"):
        late.parse("ten percent")


# --- the LMS's marks and Gradescope's export ---

def _cells(tmp_path):
    return collect.cell_ids(ROOT / "source" / ASSIGNMENT)


def test_canvas_late_mark_is_kept(tmp_path):
    lay_out(tmp_path / "canvas", {"smithjane_LATE_101_9001_1_rnn_cell_forward.ipynb": notebook("late"),
                                  "doejohn_102_9002_1_rnn_cell_forward.ipynb": notebook("on time"),
                                  # a late student's notebooks in a zip were not late (found in review)
                                  "smithjohn_LATE_103_9003_work.zip": zip_bytes(tmp_path, {
                                      "1_rnn_cell_forward.ipynb": notebook("zipped late"),
                                      "2_rnn_forward.ipynb": notebook("zipped late")})})
    found = {s.submitted_as: s for s in collect.collect(tmp_path / "canvas", ASSIGNMENT, NOTEBOOKS)}
    assert found["smithjane"].late_by_lms and found["smithjane"].lms_user_id == "101"
    assert not found["doejohn"].late_by_lms
    assert found["smithjohn"].late_by_lms and set(found["smithjohn"].files) == {"1_rnn_cell_forward.ipynb",
                                                                                "2_rnn_forward.ipynb"}


GRADESCOPE_METADATA = """\
submission_1001:
  :submitters:
  - :name: Jane Smith
    :sid: '3141'
    :email: jane@example.edu
  :created_at: 2026-12-02 10:00:00.000000000 -08:00
  :score: 0.0
submission_1002:
  :submitters:
  - :name: John Doe
    :sid: ''
    :email: john@example.edu
  :created_at: 2026-11-30 10:00:00.000000000 -08:00
"""


def test_a_gradescope_export_is_graded_under_the_students_ids(tmp_path):
    export = lay_out(tmp_path / "export", {
        "submission_metadata.yml": GRADESCOPE_METADATA.encode(),
        "submission_1001/1_rnn_cell_forward.ipynb": notebook("jane"),
        "submission_1002/my work (1).ipynb": (COMPLETE / "2_rnn_forward.ipynb").read_bytes()})
    collection = collect.collect(export, ASSIGNMENT, _cells(tmp_path))
    found = {s.submitted_as: s for s in collection.submissions}
    assert set(found) == {"3141", "john@example.edu"}
    jane, john = found["3141"], found["john@example.edu"]
    assert (jane.name, jane.email, jane.student_id) == ("Jane Smith", "jane@example.edu", "3141")
    assert jane.timestamp.startswith("2026-12-02T10:00:00") and jane.timestamp.endswith("-08:00")
    assert list(john.files) == ["2_rnn_forward.ipynb"]  # found by its cells
    reasons = {e.path.rsplit("/", 1)[-1]: e.reason for e in collection.entries}
    assert reasons["submission_metadata.yml"].startswith("Gradescope's list of submissions")


def test_a_gradescope_export_with_yaml_aliases_is_not_expanded(tmp_path):
    """Nested aliases made a 419-byte submission_metadata.yml a 52 MB name (found in review)."""
    bomb = "a: &a ['xxxxxxxxxx']\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                                          for p, c in zip("abcdefg", "bcdefgh"))
    bomb += "submission_1001:\n  :submitters:\n  - :name: *h\n    :sid: '3141'\n"
    export = lay_out(tmp_path / "export", {"submission_metadata.yml": bomb.encode(),
                                           "submission_1001/1_rnn_cell_forward.ipynb": notebook("jane")})
    collection = collect.collect(export, ASSIGNMENT, _cells(tmp_path))
    [submission] = collection.submissions
    assert submission.submitted_as == "submission_1001" and not submission.name
    reasons = {e.path.rsplit("/", 1)[-1]: e.reason for e in collection.entries}
    assert "it uses YAML aliases" in reasons["submission_metadata.yml"]


def test_uploads_are_read_without_following_links(tmp_path):
    uploads = lay_out(tmp_path / "submission", {"answers.ipynb": (COMPLETE / "1_rnn_cell_forward.ipynb").read_bytes()})
    # a link to the solution notebook: followed, it would score the points
    (uploads / "4_lstm.ipynb").symlink_to(ROOT / "source" / ASSIGNMENT / "4_lstm.ipynb")
    collection = collect.collect_uploads(uploads, ASSIGNMENT, _cells(tmp_path), "ann@example.edu", "2026-12-01")
    [submission] = collection.submissions
    assert list(submission.files) == ["1_rnn_cell_forward.ipynb"] and submission.timestamp == "2026-12-01"
    assert any(path.endswith("4_lstm.ipynb") and why == "a symbolic link" for path, why in submission.set_aside)
    (tmp_path / "empty").mkdir()
    nothing = collect.collect_uploads(tmp_path / "empty", ASSIGNMENT, _cells(tmp_path), "bob", None)
    assert [s.student_id for s in nothing.submissions] == ["bob"]


# --- the roster ---

def test_roster_is_read_and_checked(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("id,name,email,lms_id,extension_hours\njsmith,Jane Q Smith,jane@example.edu,101,\n"
                    "kim,Kim Lee,,,24\n")
    jane, kim = roster.read(path)
    assert (jane.first_name, jane.last_name, jane.lms_user_id) == ("Jane Q", "Smith", "101")
    assert kim.extension_hours == 24 and kim.email is None
    for text, problem in (("name,email\nJane,j@x\n", "no id column"), ("id\njsmith\njsmith\n", "repeats"),
                          ("id,extension_hours\nkim,two days\n", "not a number"),
                          # nan, inf and a negative extension crashed grading later, or took time away
                          ("id,extension_hours\nkim,nan\n", "not a number"), ("id,extension_hours\nkim,inf\n", "not a number"),
                          ("id,extension_hours\nkim,-5\n", "0 or more")):
        path.write_text(text)
        with pytest.raises(roster.RosterError, match=problem):
            roster.read(path)


def test_the_roster_matches_like_with_like():
    """A submission under Canvas user id 1234 was matched to the student whose SIS id is 1234, who
    then got another student's grade and lost their own extension (found in review)."""
    from autograder.collect import Submission
    ann = roster.Student("1234", "Ann", "Lee", "ann@example.edu", "900")
    bob = roster.Student("bsmith", "Bob", "Smith", "bob@example.edu", "1234", extension_hours=72)
    canvas = Submission("smithbob", {}, submitted_as="smithbob", lms_user_id="1234")
    by_id = Submission("1234", {}, submitted_as="1234")
    both = Submission("lee", {}, submitted_as="1234", lms_user_id="900")   # ann's id and ann's lms id: ann
    torn = Submission("x", {}, submitted_as="bsmith", lms_user_id="900")   # bob's id, ann's lms id: neither
    found = roster.match([canvas, by_id, both, torn], [ann, bob])
    assert found[canvas.student_id] is bob and canvas.student_id == "bsmith"
    assert found["1234"] is ann and by_id.student_id == "1234"
    assert both.student_id == "lee" and found["lee"] is ann   # ann's id was taken: the submission keeps its own
    assert "x" not in found and torn.student_id == "x"


@pytest.mark.parametrize("extra, message", [
    (["--roster", "missing.csv"], "cannot read the roster"), (["--late-policy", "lots"], "unknown late policy"),
    (["--due", "next tuesday-ish"], "is not a date")])
def test_bad_options_exit_2_with_one_sentence(tmp_path, extra, message):
    run = grade(ROOT / "tests" / "fixtures" / "class", tmp_path / "out", *extra)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


# --- a class in two batches: Canvas (one LATE_), then nbgrader's layout with timestamp.txt ---

@pytest.fixture(scope="module")
def late_class(tmp_path_factory):
    base = tmp_path_factory.mktemp("late")
    for path in sorted(COMPLETE.glob("*.ipynb")):
        lay_out(base / "canvas", {f"smithjane_LATE_101_9001_{path.name}": path.read_bytes(),
                                  f"doejohn_102_9002_{path.name}": path.read_bytes()})
    shutil.copytree(COMPLETE, base / "batch2" / "kimlee" / ASSIGNMENT)
    (base / "batch2" / "kimlee" / ASSIGNMENT / "timestamp.txt").write_text("2026-12-03 12:00:00 UTC")
    (base / "roster.csv").write_text("id,name,email,lms_id,extension_hours\njsmith,Jane Smith,jane@example.edu,101,\n"
                                     "jdoe,John Doe,john@example.edu,102,\nkimlee,Kim Lee,kim@example.edu,103,24\n")
    out = base / "out"
    first = grade(base / "canvas", out, "--due", "2026-12-01 12:00", "--late-policy", "10%/day",
                  "--roster", str(base / "roster.csv"), "--workers", "2")
    assert first.returncode == 0, first.stderr
    second = grade(base / "batch2", out, "--roster", str(base / "roster.csv"))  # due date and policy kept
    assert second.returncode == 0, second.stderr
    # a third batch from Gradescope's export: the student's name, email and sid, and Gradescope's time
    export = {"submission_metadata.yml": GRADESCOPE_METADATA.replace("2026-12-02 10:00", "2026-12-01 20:00")
              .split("submission_1002")[0].encode()}
    export.update({f"submission_1001/{path.name}": path.read_bytes() for path in sorted(COMPLETE.glob("*.ipynb"))})
    third = grade(lay_out(base / "export", export), out)
    assert third.returncode == 0, third.stderr
    return out


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_late_students_lose_their_penalty_in_grades_csv(late_class):
    rows = {r[0]: dict(zip(_csv(late_class / "grades.csv")[0], r)) for r in _csv(late_class / "grades.csv")[1:]}
    # Canvas's LATE_ without a time: just after the due date, one day started: 10% of 24
    assert rows["jsmith"]["late_penalty"] == "2.4" and rows["jsmith"]["score"] == "21.6"
    assert rows["jsmith"]["submitted_at"] == "2026-12-01 12:00:01 UTC" and rows["jsmith"]["submitted_as"] == "smithjane"
    # two days after the due date with a day's extension from the roster: one day late
    assert rows["kimlee"]["late_penalty"] == "2.4" and rows["kimlee"]["submitted_at"] == "2026-12-03 12:00:00 UTC"
    assert "late by 24.0 hours" in rows["kimlee"]["status"]
    assert (rows["jdoe"]["score"], rows["jdoe"]["late_penalty"], rows["jdoe"]["submitted_at"]) == ("24", "0", "")
    # Gradescope's 20:00 -08:00 is 04:00 UTC the next day: 16 hours late, one day started
    assert (rows["3141"]["submitted_at"], rows["3141"]["late_penalty"]) == ("2026-12-02 04:00:00 UTC", "2.4")
    for student in rows:
        validate(json.loads((late_class / "results" / f"{student}.json").read_text()))
    note = json.loads((late_class / "results" / "jsmith.json").read_text())["output"]
    assert "the LMS marked this submission late without its time" in note


def test_canvas_and_moodle_files_are_in_their_import_formats(late_class):
    canvas = _csv(late_class / "lms" / "canvas.csv")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert ["Smith, Jane", "101", "", "", "", "21.6"] in canvas[1:] and ["Doe, John", "102", "", "", "", "24"] in canvas
    moodle = _csv(late_class / "lms" / "moodle.csv")
    assert moodle[0] == ["First name", "Last name", "ID number", "Email address", f"Assignment: {ASSIGNMENT}"]
    assert ["Kim", "Lee", "kimlee", "kim@example.edu", "21.6"] in moodle[1:]
    assert ["Smith", "", "3141", "jane@example.edu", "21.6"] not in moodle  # Gradescope's Jane is her own student
    assert ["Jane", "Smith", "3141", "jane@example.edu", "21.6"] in moodle[1:]
    assert len(canvas) == len(moodle) == 5


def test_the_roster_fills_nbgraders_student_table(late_class):
    with sqlite3.connect(late_class / "course" / "gradebook.db") as db:
        students = set(db.execute("SELECT id, first_name, last_name, email, lms_user_id FROM student"))
        extension = db.execute("SELECT extension FROM submitted_assignment WHERE student_id = 'kimlee'").fetchone()
        due = db.execute("SELECT duedate FROM assignment").fetchone()
    assert {("jsmith", "Jane", "Smith", "jane@example.edu", "101"),
            ("kimlee", "Kim", "Lee", "kim@example.edu", "103"), ("3141", "Jane", "Smith", "jane@example.edu", None)} \
        <= students
    assert extension[0] is not None and due[0].startswith("2026-12-01 12:00:00")


def test_plain_nbgrader_export_sees_the_same_penalties(late_class):
    import os
    import subprocess
    run = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(late_class / "export.csv")],
                         cwd=late_class / "course", capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    assert run.returncode == 0, run.stderr
    exported = {row["student_id"]: row for row in csv.DictReader(open(late_class / "export.csv"))}
    assert float(exported["jsmith"]["late_submission_penalty"]) == pytest.approx(2.4)
    assert float(exported["jsmith"]["score"]) == pytest.approx(21.6)


def test_a_roster_or_due_date_given_later_reaches_students_graded_before():
    """The saved grading of an unchanged submission was kept when a later run brought an extension
    (or, for a LATE_ file without a time, a due date): the student stayed late (found in review)."""
    from autograder import grade as grading
    from autograder.collect import Submission
    on_time = Submission("kim", {"1_rnn_cell_forward.ipynb": b"{}"}, timestamp="2026-12-03 12:00:00 UTC")
    late = Submission("jane", {"1_rnn_cell_forward.ipynb": b"{}"}, late_by_lms=True)
    kim = roster.Student("kim", extension_hours=24)
    assert grading.record_key("k", on_time, None, None) != grading.record_key("k", on_time, kim, None)
    assert grading.record_key("k", on_time, kim, "2026-12-01") == grading.record_key("k", on_time, kim, "2026-12-02")
    assert grading.record_key("k", late, None, "2026-12-01") != grading.record_key("k", late, None, "2026-12-02")
