"""End to end: `python -m autograder grade` on the committed fixture class, exact scores.

Also: re-grading is a no-op with identical results, a changed submission is re-graded,
a .zip of the class grades the same, the gradebook and `nbgrader export` agree with
grades.csv, and instructor-side mistakes exit non-zero with a message.
"""

import csv
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

import pytest
from nbgrader.api import Gradebook

from autograder import sample
from autograder.course import COURSE_ID
from tests.helpers import ASSIGNMENT, RNN, ROOT, grade, graded_class, results

FIXTURES = ROOT / "tests" / "fixtures" / "class"
TIMEOUT = "5"
EXPECTED = {f"s{i:02d}_{name}": score for i, (name, (score, _)) in enumerate(sample.students(RNN).items(), 1)}


def rows(out):
    with open(out / "grades.csv") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return graded_class(tmp_path_factory, FIXTURES)


def test_every_student_gets_the_exact_score(graded):
    out, _ = graded
    got = {student: float(row["score"]) for student, row in rows(out).items()}
    assert got == EXPECTED
    assert {row["max_score"] for row in rows(out).values()} == {"24"}


def test_status_says_why(graded):
    out = graded[0]
    status = {student: row["status"] for student, row in rows(out).items()}
    assert status["s01_complete"] == status["s02_blank"] == "graded"
    # cells lost to something other than a wrong answer are named, for the instructor to look at
    assert status["s14_infinite_loop"] == "graded; cells lost: rnn_forward_shapes (time limit), " \
                                          "rnn_forward_values (time limit)"
    assert status["s12_deleted_test_cell"] == "graded"
    assert status["s09_invalid_json"] == "graded except: 2_rnn_forward.ipynb is not a valid notebook " \
                                         "(Notebook does not appear to be JSON: '{\"cells\": [ this is not json')"
    assert status["s10_missing_notebook"] == "graded except: 3_rnn_backward.ipynb was not submitted"
    assert status["s11_renamed_notebook"] == "graded"  # "1_rnn_cell_forward (1).ipynb" is notebook 1
    assert status["s15_dead_kernel"] == "graded; cells lost: rnn_cell_backward_shapes (kernel died), " \
                                        "rnn_cell_backward_values (kernel died)"
    died = {t["name"]: t["output"] for t in results(out, "s15_dead_kernel")["tests"]}
    assert died["rnn_cell_backward_shapes"].startswith("KernelDied: the kernel died while running this cell")
    assert died["rnn_backward_values"] == "Passed."


def test_per_notebook_columns(graded):
    row = rows(graded[0])["s03_tanh_twice"]
    assert (row["1_rnn_cell_forward"], row["2_rnn_forward"], row["3_rnn_backward"], row["4_lstm"]) == \
        ("3", "3", "4", "12")


def test_results_json_names_every_test_and_its_message(graded):
    out, _ = graded
    r = results(out, "s03_tanh_twice")
    assert r["score"] == 22 and [t["name"] for t in r["tests"]] == [
        f"{f}_{k}" for f in ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward",
                             "lstm_cell_forward", "lstm_forward", "lstm_cell_backward", "lstm_backward")
        for k in ("shapes", "values")]
    failed = [t for t in r["tests"] if t["status"] == "failed"]
    assert [(t["name"], t["score"], t["max_score"]) for t in failed] == [("rnn_cell_backward_values", 0, 2)]
    assert failed[0]["output"].startswith("AssertionError: rnn_cell_backward: wrong values in dxt for a hidden input")
    assert all(t["output"] == "Passed." for t in r["tests"] if t["status"] == "passed")
    loop = {t["name"]: t["output"] for t in results(out, "s14_infinite_loop")["tests"]}
    assert loop["rnn_forward_values"] == "The cell did not finish within the time limit (an endless loop?)."
    blank = results(out, "s02_blank")["tests"][0]["output"]
    assert blank == "NotImplementedError: rnn_cell_forward is not implemented yet."
    deleted = {t["name"]: t["output"] for t in results(out, "s12_deleted_test_cell")["tests"]}
    assert deleted["rnn_forward_values"] == "Passed."  # put back and run


def test_feedback_and_report(graded):
    out, _ = graded
    feedback = out / "feedback" / "s01_complete" / ASSIGNMENT
    assert sorted(p.name for p in feedback.glob("*.html")) == [
        "1_rnn_cell_forward.html", "2_rnn_forward.html", "3_rnn_backward.html", "4_lstm.html"]
    # a notebook not handed in has a page too, saying so (issue 21)
    assert "3_rnn_backward.ipynb was not submitted" in \
        (out / "feedback" / "s10_missing_notebook" / ASSIGNMENT / "3_rnn_backward.html").read_text()
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_table_and_quiet_logs(graded):
    out, run = graded
    assert "s03_tanh_twice" in run.stdout and "16 students, " in run.stdout
    assert run.stderr == "", "no log noise on the terminal"
    assert "14 fully graded" in run.stdout
    # nbgrader warns that the checksum of every test cell with hidden tests changed (putting them
    # back is what changes it): the student's log keeps only the cells that were edited
    assert (out / "logs" / "s01_complete.log").read_text() == ""


def test_gradebook_and_nbgrader_export_agree_with_grades_csv(graded):
    out, _ = graded
    db = f"sqlite:///{out / 'course' / 'gradebook.db'}"
    with Gradebook(db, COURSE_ID) as gb:
        totals = {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}
    assert totals == EXPECTED
    export = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(out / "export.csv")],
                            cwd=out / "course", capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    assert export.returncode == 0, export.stderr
    with open(out / "export.csv") as f:
        exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    assert exported == EXPECTED


def test_regrading_is_a_no_op_and_a_zip_grades_the_same(graded, tmp_path):
    out, _ = graded
    before = (out / "grades.csv").read_bytes()
    again = grade(FIXTURES, out, "--workers", "2")
    assert again.returncode == 0 and "Grading 0 of 16 submissions" in again.stdout
    assert (out / "grades.csv").read_bytes() == before
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in FIXTURES.rglob("*"):
            if path.is_file():
                z.write(path, "download/" + str(path.relative_to(FIXTURES)))
    zipped = grade(archive, out, "--workers", "2")
    assert zipped.returncode == 0 and "Grading 0 of 16 submissions" in zipped.stdout, zipped.stdout
    assert (out / "grades.csv").read_bytes() == before


def test_a_changed_submission_is_regraded(graded, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(graded[0], out)
    submissions = tmp_path / "class"
    shutil.copytree(FIXTURES, submissions)
    fixed = submissions / "s10_missing_notebook" / ASSIGNMENT / "3_rnn_backward.ipynb"
    shutil.copy(FIXTURES / "s01_complete" / ASSIGNMENT / "3_rnn_backward.ipynb", fixed)
    run = grade(submissions, out, "--workers", "1")
    assert run.returncode == 0 and "Grading 1 of 16 submissions" in run.stdout, run.stdout
    assert float(rows(out)["s10_missing_notebook"]["score"]) == 24, (
        rows(out)["s10_missing_notebook"]["status"], results(out, "s10_missing_notebook")["tests"][0]["output"])
    assert {s: float(r["score"]) for s, r in rows(out).items() if s != "s10_missing_notebook"} == \
        {s: v for s, v in EXPECTED.items() if s != "s10_missing_notebook"}


def test_a_student_removed_from_the_gradebook_is_graded_again(graded, tmp_path):
    """A saved grading stands only while the gradebook still has the student's submission (an
    instructor may remove it with nbgrader's API or a fresh gradebook): the rest are found in one
    query for the whole class, not one a student."""
    out = tmp_path / "out"
    shutil.copytree(graded[0], out)
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}", COURSE_ID) as gb:
        gb.remove_submission(ASSIGNMENT, "s03_tanh_twice")
    run = grade(FIXTURES, out, "--workers", "1")
    assert run.returncode == 0 and "Grading 1 of 16 submissions" in run.stdout, run.stdout
    assert {s: float(r["score"]) for s, r in rows(out).items()} == EXPECTED
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}", COURSE_ID) as gb:
        assert gb.find_submission(ASSIGNMENT, "s03_tanh_twice").score == EXPECTED["s03_tanh_twice"]


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/class", "--out", "{tmp}/o"], "does not exist"),
    (["{tmp}/empty", "--out", "{tmp}/o"], "no submissions found"),
    ([str(FIXTURES), "--out", "{tmp}/o", "--db", "nosuchdb://x"], "cannot use the gradebook nosuchdb://x"),
    ([str(FIXTURES), "--out", "{tmp}/o", "--workers", "0"], "--workers must be at least 1"),
    # 0 was taken for the default, and -1 let no cell run at all
    ([str(FIXTURES), "--out", "{tmp}/o", "--timeout", "0"], "argument --timeout: 0 is less than 1"),
    ([str(FIXTURES), "--out", "{tmp}/o", "--timeout", "-1"], "argument --timeout: -1 is less than 1"),
])
def test_instructor_mistakes_exit_nonzero_with_a_message(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", *[a.format(tmp=tmp_path) for a in args]],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and message in run.stderr, run.stderr


def test_a_second_grade_on_the_same_out_is_refused_while_the_first_runs(tmp_path):
    """Two `grade` runs on one OUT set up the same course and template gradebook, and the first to
    end removes OUT/.work, where the other's workers keep their courses: run at once into a new
    OUT, one of them stopped with nbgrader's traceback ("attempt to write a readonly database").
    While a grade holds OUT (here the test, as a running grade does), another says so in one
    sentence, exit 2, and leaves OUT as it was."""
    from autograder import submit
    out = tmp_path / "o"
    out.mkdir()
    running = submit.locked(out)
    try:
        run = grade(FIXTURES, out)
    finally:
        os.close(running)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"error: another `grade` is running on {out}: run this one again once it has ended")
    assert not {"course", ".work", ".state", "grades.csv"} & {p.name for p in out.iterdir()}


def test_hidden_tests_name_the_mistakes_and_the_report_counts_them(graded):
    out, run = graded
    named = {"s03_tanh_twice": ("rnn_cell_backward_values", "tanh applied twice"),
             "s04_yt_from_a_prev": ("rnn_cell_forward_values", "yt_pred computed from a_prev"),
             "s05_a0_every_step": ("rnn_forward_values", "the initial state a0 used at every step"),
             "s06_time_forwards": ("rnn_backward_values", "time walked forwards in the backward pass"),
             "s16_lstm_dc_next_forgotten": ("lstm_cell_backward_values",
                                            "dc_next left out of the memory's gradient")}
    for student, (test, mistake) in named.items():
        outputs = {t["name"]: t["output"] for t in results(out, student)["tests"]}
        assert f"Known mistake: {mistake}." in outputs[test], outputs[test]
        feedback = (out / "feedback" / student / ASSIGNMENT).glob("*.html")
        assert any(f"Known mistake: {mistake}." in html.read_text() for html in feedback)
    assert not any("Known mistake" in t["output"] for t in results(out, "s01_complete")["tests"])
    assert ("Known mistakes: dc_next left out of the memory's gradient (1 student); tanh applied twice (1 student); "
            "the initial state a0 used at every step (1 student); "
            "time walked forwards in the backward pass (1 student); yt_pred computed from a_prev (1 student)"
            ) in run.stdout


def test_a_student_graded_alone_by_the_service_in_parts_gets_what_the_class_run_gave(graded, tmp_path):
    """`serve` grades a submission that comes alone in parts, one per idle worker (with three:
    notebooks 1 and 2, 3, 4; worker.PartAutograde), then merges them. Notebook 3 loads the
    functions answered in 1 and 2, which another worker grades at the same time. The results and
    the pages must be those of the whole run: here the class's, graded whole by `grade`, against
    copies of its students under new ids (the hidden inputs are drawn from the files, not the id).
    A dead kernel, a duplicated cell (nbgrader fails the whole run, then grades one notebook at a
    time), a named mistake in notebook 4."""
    out, _ = graded
    served = tmp_path / "OUT"
    shutil.copytree(out, served, symlinks=True)
    students = ("s15_dead_kernel", "s13_duplicated_answer_cell", "s16_lstm_dc_next_forgotten")
    process = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--out", str(served), "--assignment",
                                ASSIGNMENT, "--workers", "3", "--timeout", TIMEOUT], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not (served / "grader.sock").exists():
            assert process.poll() is None
            time.sleep(0.1)
        for student in students:
            shutil.copytree(FIXTURES / student, tmp_path / student / f"{student}_alone")
            run = subprocess.run([sys.executable, "-m", "autograder", "submit", str(tmp_path / student), "--out",
                                  str(served)], capture_output=True, text=True, cwd=ROOT, timeout=300)
            assert run.returncode == 0, run.stderr
    finally:
        process.terminate()
        process.wait(timeout=60)
    for student in students:
        alone, whole = results(served, f"{student}_alone"), results(out, student)
        assert alone.pop("execution_time") <= whole.pop("execution_time") + 2  # seconds: the parts at once
        assert alone == whole, student
        for page in sorted((out / "feedback" / student / ASSIGNMENT).glob("*.html")):
            again = served / "feedback" / f"{student}_alone" / ASSIGNMENT / page.name
            assert _words(again.read_text().replace(f"{student}_alone", student)) == _words(page.read_text()), again


def _words(html):
    """What a page shows, word by word, without the cells' prompts. Two whole runs differ there
    too: where a kernel's output was cut into messages (each message is a block of its own), and
    the execution count of a cell whose kernel died (measured: [ ] in one run of four)."""
    return re.sub(r"In&nbsp;\[[^\]]*\]:", " ", re.sub(r"<[^>]+>", " ", html)).split()
