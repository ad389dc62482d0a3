"""A term in one OUT, as an instructor lives it: a Canvas folder, an Info-ZIP zip, nbgrader's
exchange, a late batch, a written answer graded by hand, and a test added mid-term.

The steps run in order (one module, one worker: pytest-xdist's --dist loadfile) on one OUT;
each asserts what the instructor would check at that point."""

import csv
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import sample
from autograder.course import COURSE_ID, generate_assignment
from tests.helpers import ASSIGNMENT, RNN, ROOT, SOURCE
from tests.lms_downloads import zip_of

QUESTION = "why_tanh"
STUDENT = pwd.getpwuid(os.getuid()).pw_name
NEW_TEST = "rnn_cell_forward_bounded"


def _cell(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _course(folder, with_new_test=False):
    """The series' source with a written question (1 point) in notebook 1, and, mid-term, one
    more test; returns (source folder, release folder)."""
    source = folder / "source" / ASSIGNMENT
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(SOURCE, source)
    path = source / f"{RNN.grading.NB1}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    question = nbformat.v4.new_markdown_cell("Tanh keeps the hidden state between -1 and 1.")
    question.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "task": False,
                                     "grade_id": QUESTION, "points": 1, "schema_version": 3}
    notebook.cells.insert(_cell(notebook, "summary"), question)
    if with_new_test:
        test = nbformat.v4.new_code_cell(
            "np.random.seed(7)\n"
            "p = {'Wax': np.random.randn(5, 3), 'Waa': np.random.randn(5, 5), 'Wya': np.random.randn(2, 5),\n"
            "     'ba': np.random.randn(5, 1), 'by': np.random.randn(2, 1)}\n"
            "a_next, _, _ = rnn_cell_forward(10 * np.random.randn(3, 4), np.random.randn(5, 4), p)\n"
            "assert np.all(np.abs(a_next) <= 1), 'the hidden state leaves [-1, 1]'")
        test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "task": False,
                                     "grade_id": NEW_TEST, "points": 1, "schema_version": 3}
        notebook.cells.insert(_cell(notebook, "rnn_cell_forward_values") + 1, test)
    nbformat.write(notebook, path)
    result = generate_assignment(folder, f"sqlite:///{folder / 'gradebook.db'}", ASSIGNMENT)
    assert result["success"], result.get("log")
    return source, folder / "release" / ASSIGNMENT


def _student(release, source, wrote_answer=True):
    """{notebook: bytes}: the release answered from the source, the written question answered or not."""
    files = {}
    for path in sorted(release.glob("*.ipynb")):
        notebook = sample.answered(nbformat.read(path, as_version=4), nbformat.read(source / path.name, as_version=4))
        if path.stem == RNN.grading.NB1 and not wrote_answer:
            notebook.cells[_cell(notebook, QUESTION)] = nbformat.read(path, as_version=4).cells[
                _cell(nbformat.read(path, as_version=4), QUESTION)]
        files[path.stem] = nbformat.writes(notebook).encode()
    return files


def _grade(submissions, out, source, *extra):
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
                           "--source", str(source), "--timeout", "10", "--workers", "2", *extra],
                          capture_output=True, text=True, cwd="/", timeout=900)  # from any folder


def _rows(out):
    with open(out / "grades.csv", newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def _collection(out):
    with open(out / "collection.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    base = tmp_path_factory.mktemp("term")
    source, release = _course(base / "authoring")
    return {"base": base, "out": base / "out", "source": source, "release": release,
            "complete": _student(release, source), "silent": _student(release, source, wrote_answer=False)}


def test_a_canvas_download_loses_nobody(term):
    canvas = term["base"] / "canvas"
    canvas.mkdir()
    first = dict(term["complete"])
    first[RNN.grading.NB1] = first[RNN.grading.NB1].replace(b"np.tanh(", b"np.sinh(")  # fixed in the resubmission
    for notebook, data in term["complete"].items():
        (canvas / f"alicesmith_12345_900001_{notebook}.ipynb").write_bytes(data)
        (canvas / f"o'neillpat_12347_900003_{notebook}.ipynb").write_bytes(term["silent"][notebook])
    for notebook, data in first.items():
        (canvas / f"leebruce_12346_900002_{notebook}.ipynb").write_bytes(data)
    (canvas / f"leebruce_LATE_12346_900010_{RNN.grading.NB1} (1).ipynb").write_bytes(term["complete"][RNN.grading.NB1])
    (canvas / "leebruce_12346_900011_notes.txt").write_bytes(b"my notes")
    run = _grade(canvas, term["out"], term["source"])
    assert run.returncode == 0, run.stderr
    rows = _rows(term["out"])
    assert {s: (r["submitted_as"], float(r["score"])) for s, r in rows.items()} == {
        "alicesmith": ("alicesmith", 24), "leebruce": ("leebruce", 24), "o_neillpat": ("o'neillpat", 24)}
    files = _collection(term["out"])
    assert len(files) == 14 and len({f["path"] for f in files}) == 14  # every file, once
    aside = {Path(f["path"]).name: f["reason"] for f in files if f["reason"]}
    assert set(aside) == {f"leebruce_12346_900002_{RNN.grading.NB1}.ipynb", "leebruce_12346_900011_notes.txt"}
    assert aside[f"leebruce_12346_900002_{RNN.grading.NB1}.ipynb"].startswith("superseded by a later resubmission")
    assert "files set aside: 2" in rows["leebruce"]["status"]
    # The written answers wait for the instructor: 1 point pending for alice, pat wrote nothing (0).
    assert "awaiting manual grading (1 points)" in rows["alicesmith"]["status"]
    assert "awaiting" not in rows["o_neillpat"]["status"]
    with Gradebook(f"sqlite:///{term['out'] / 'course' / 'gradebook.db'}", COURSE_ID) as gb:
        grade = gb.find_grade(QUESTION, RNN.grading.NB1, ASSIGNMENT, "alicesmith")
        assert grade.needs_manual_grade and grade.auto_score is None
        assert gb.find_grade(QUESTION, RNN.grading.NB1, ASSIGNMENT, "o_neillpat").score == 0


def test_an_info_zip_download_keeps_its_unicode_names(term):
    files = {f"submissions/müllerjürgen_12348_900004_{nb}.ipynb": data for nb, data in term["complete"].items()}
    archive = zip_of(term["base"] / "late.zip", files, names="info-zip")
    run = _grade(archive, term["out"], term["source"])
    assert run.returncode == 0, run.stderr
    rows = _rows(term["out"])
    assert rows["mullerjurgen"]["submitted_as"] == "müllerjürgen" and float(rows["mullerjurgen"]["score"]) == 24
    assert set(rows) == {"alicesmith", "leebruce", "o_neillpat", "mullerjurgen"}  # the class, not this batch


def test_a_grade_given_in_formgrader_reaches_grades_csv(term):
    db = f"sqlite:///{term['out'] / 'course' / 'gradebook.db'}"
    with Gradebook(db, COURSE_ID) as gb:  # what formgrader does when the instructor saves a grade
        gb.find_grade(QUESTION, RNN.grading.NB1, ASSIGNMENT, "alicesmith").manual_score = 1
        gb.find_comment(QUESTION, RNN.grading.NB1, ASSIGNMENT, "alicesmith").manual_comment = "Right."
        gb.db.commit()
    run = subprocess.run([sys.executable, "-m", "autograder", "report", str(term["out"])], capture_output=True,
                         text=True, cwd="/", timeout=300)
    assert run.returncode == 0, run.stderr
    row = _rows(term["out"])["alicesmith"]
    assert float(row["score"]) == 25 and row["status"] == "graded"


def test_nbgrader_exchange_then_feedback_release(term):
    """release_assignment, fetch, submit, collect (nbgrader's own commands) into OUT/course, graded by
    us, then release_feedback and fetch_feedback. The exchange knows students by their login
    (STUDENT): the student side runs as this user, in a home of its own."""
    course, exchange, home = term["out"] / "course", term["base"] / "exchange", term["base"] / "bob"
    exchange.mkdir()
    home.mkdir()
    nbgrader = [sys.executable, "-m", "nbgrader"]
    common = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}"]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}

    def run(*args, cwd):
        done = subprocess.run([*nbgrader, *args, *common], cwd=cwd, capture_output=True, text=True, timeout=300,
                              env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done
    shutil.copytree(term["release"], course / "release" / ASSIGNMENT, dirs_exist_ok=True)
    run("release_assignment", ASSIGNMENT, "--force", cwd=course)
    run("fetch_assignment", ASSIGNMENT, cwd=home)
    for notebook, data in term["complete"].items():
        (home / ASSIGNMENT / f"{notebook}.ipynb").write_bytes(data)
    run("submit", ASSIGNMENT, cwd=home)
    run("collect", ASSIGNMENT, cwd=course)
    graded = _grade(course / "submitted", term["out"], term["source"])
    assert graded.returncode == 0, graded.stderr
    rows = _rows(term["out"])
    assert float(rows[STUDENT]["score"]) == 24 and rows["o_neillpat"]["submitted_as"] == "o'neillpat"
    feedback = course / "feedback" / STUDENT / ASSIGNMENT
    assert (feedback / "timestamp.txt").is_file() and (feedback / "images").is_dir()
    run("release_feedback", ASSIGNMENT, cwd=course)
    run("fetch_feedback", ASSIGNMENT, cwd=home)
    assert len(list((home / ASSIGNMENT / "feedback").rglob("*.html"))) == 4


def test_a_test_added_mid_term_regrades_everyone_and_keeps_hand_grades(term):
    source, _ = _course(term["base"] / "authoring-2", with_new_test=True)
    run = _grade(term["base"] / "canvas", term["out"], source)
    assert run.returncode == 0, run.stderr
    assert f"added {NEW_TEST}" in run.stdout and "all 5 students graded again" in run.stdout, run.stdout
    rows = _rows(term["out"])
    assert set(rows) == {"alicesmith", "leebruce", "o_neillpat", "mullerjurgen", STUDENT}
    # The new test (1 point) is run on every earlier submission, never reported as deleted.
    assert {s: float(r["score"]) for s, r in rows.items()} == {
        "alicesmith": 26, "leebruce": 25, "o_neillpat": 25, "mullerjurgen": 25, STUDENT: 25}
    assert rows["alicesmith"]["status"] == "graded"  # the hand grade survived
    assert float(rows["alicesmith"]["max_score"]) == 26


def test_a_copied_out_reads_its_own_gradebook(term):
    copy = term["base"] / "copied"
    shutil.copytree(term["out"], copy, symlinks=True)
    config = (copy / "course" / "nbgrader_config.py").read_text()
    assert str(term["out"]) not in config
    run = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(copy / "export.csv")],
                         cwd=copy / "course", capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (copy / "feedback").resolve() == (copy / "course" / "feedback").resolve()


@pytest.mark.parametrize("wrong", ["release", "source", "course", "out", "out/course", "one student"])
def test_a_wrong_folder_is_refused_in_one_sentence(term, wrong):
    folder = {"release": ROOT / "release", "source": ROOT / "source", "course": term["base"] / "authoring",
              "out": term["out"], "out/course": term["out"] / "course",
              "one student": term["out"] / "course" / "submitted" / STUDENT}[wrong]
    run = _grade(folder, term["base"] / "elsewhere", term["source"])
    assert run.returncode == 2 and run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr


def test_an_unwritable_out_is_refused_in_one_sentence(term, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    run = _grade(term["base"] / "canvas", blocked / "out", term["source"])
    assert run.returncode == 2 and run.stderr.startswith("error: cannot write the results to "), run.stderr
