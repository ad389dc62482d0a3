"""The gradebook in PostgreSQL (`--db postgresql://...`), on a server of the test's own
(Debian's package, `make postgres`): the fixture class grades into it with exact scores,
and two grading runs at once on the same gradebook leave it whole."""

import multiprocessing
import shutil
import subprocess
import sys

import pytest
import sqlalchemy
from nbgrader.api import Gradebook

from autograder import sample
from autograder.course import COURSE_ID, create_gradebook
from tests import postgres
from tests.helpers import ASSIGNMENT, RNN, ROOT, grade, results

REASON = postgres.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")
FIXTURES = ROOT / "tests" / "fixtures" / "class"
EXPECTED = {f"s{i:02d}_{name}": score for i, (name, (score, _)) in enumerate(sample.students(RNN).items(), 1)}
# Enough students for every kind of row (a full score, none, a mistake, a broken notebook, a dead kernel):
# test_grade_e2e grades the whole class.
STUDENTS = ["s01_complete", "s02_blank", "s03_tanh_twice", "s09_invalid_json", "s15_dead_kernel",
            "s16_lstm_dc_next_forgotten"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with postgres.server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


def gradebook_scores(url):
    with Gradebook(url, COURSE_ID) as gb:
        return {s.id: gb.find_submission(ASSIGNMENT, s.id).score for s in gb.students}


def test_the_class_grades_into_postgresql(server, tmp_path):
    for student in STUDENTS:
        shutil.copytree(FIXTURES / student, tmp_path / "class" / student)
    run = grade(tmp_path / "class", tmp_path / "out", "--db", server, "--workers", "2")
    assert run.returncode == 0, run.stderr
    expected = {s: EXPECTED[s] for s in STUDENTS}
    assert gradebook_scores(server) == expected
    assert {s: results(tmp_path / "out", s)["score"] for s in STUDENTS} == expected


def test_two_runs_at_once_on_one_gradebook(tmp_path_factory):
    """Two instructors grade overlapping halves of a class into one gradebook at the same
    time: both finish, every student is there once, with the right score."""
    with postgres.server(tmp_path_factory.mktemp("postgres2")) as url:
        students = STUDENTS
        halves = {"a": students[:4], "b": students[2:]}  # two students in both
        runs = {}
        for name, half in halves.items():
            for student in half:
                shutil.copytree(FIXTURES / student, tmp_path_factory.getbasetemp() / f"class_{name}" / student)
            runs[name] = subprocess.Popen(
                [sys.executable, "-m", "autograder", "grade", str(tmp_path_factory.getbasetemp() / f"class_{name}"),
                 "--out", str(tmp_path_factory.getbasetemp() / f"out_{name}"), "--timeout", "5", "--db", url,
                 "--workers", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, run in runs.items():
            _, stderr = run.communicate(timeout=600)
            assert run.returncode == 0, f"run {name}: {stderr}"
        assert gradebook_scores(url) == {s: EXPECTED[s] for s in STUDENTS}
        with Gradebook(url, COURSE_ID) as gb:
            assert len(gb.assignments) == 1 and len(gb.students) == len(STUDENTS)
            assert all(len(gb.find_student(s).submissions) == 1 for s in STUDENTS)


def test_runs_starting_at_once_on_a_new_gradebook_make_it_once(server, tmp_path):
    """The first run on an empty database makes its tables. Four processes doing it at the
    same moment all succeed (unlocked, all four found no tables and three failed on a
    duplicate table: CI saw it as a grading run dying at start), and so do their first
    Gradebooks, opened at the same moment."""
    engine = sqlalchemy.create_engine(server.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("CREATE DATABASE empty_gradebook"))
    engine.dispose()
    url = server.rsplit("/", 1)[0] + "/empty_gradebook"
    context = multiprocessing.get_context("spawn")
    barrier, outcomes = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_create_at_once, args=(url, barrier, outcomes)) for _ in range(4)]
    for process in processes:
        process.start()
    assert [outcomes.get(timeout=120) for _ in processes] == ["made"] * 4
    for process in processes:
        process.join(timeout=60)
    with Gradebook(url, COURSE_ID) as gb:
        assert gb.students == []


def _create_at_once(url, barrier, outcomes):
    import alembic.script  # noqa: F401  (imported before the barrier, so that all four start together)
    import nbgrader.api  # noqa: F401
    import autograder.grade.gradebook  # noqa: F401
    barrier.wait(timeout=60)
    try:
        create_gradebook(url)
        # then each opens the gradebook as a run does next (_follow_source_change): nbgrader's
        # Gradebook adds the course's row when it is missing, and two adding it at once failed
        # one run (CI: "duplicate key value violates unique constraint course_pkey")
        barrier.wait(timeout=60)
        with nbgrader.api.Gradebook(url, COURSE_ID):
            pass
    except Exception as error:
        outcomes.put(f"{type(error).__name__}: {str(error)[:200]}")
    else:
        outcomes.put("made")


def test_both_assignments_in_one_postgresql_gradebook(tmp_path_factory):
    """`--db` one database for a course's grading: both assignments in one nbgrader gradebook
    (formgrader and `nbgrader export` see them together), each student's scores right in each."""
    with postgres.server(tmp_path_factory.mktemp("postgres3")) as url:
        submissions = tmp_path_factory.mktemp("course") / "submissions"
        lm = ROOT / "tests" / "fixtures" / "class_char_language_model"
        expected = {}
        for student, rnn_score, lm_score in (("s01_complete", 24, 15), ("s02_blank", 0, 0)):
            shutil.copytree(FIXTURES / student, submissions / student, dirs_exist_ok=True)
            shutil.copytree(lm / student, submissions / student, dirs_exist_ok=True)
            expected.update({("rnn_step_by_step", student): rnn_score, ("char_language_model", student): lm_score})
        out = submissions.parent / "out"
        run = grade(submissions, out, "--db", url, "--workers", "2")
        assert run.returncode == 0, run.stderr
        with Gradebook(url, COURSE_ID) as gb:
            assert sorted(a.name for a in gb.assignments) == ["char_language_model", "rnn_step_by_step"]
            scores = {(s.assignment.name, s.student.id): s.score for a in gb.assignments
                      for s in gb.assignment_submissions(a.name)}
        assert scores == expected
        assert "s01_complete,39,39" in (out / "grades.csv").read_text()
