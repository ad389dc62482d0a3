"""The gradebook in PostgreSQL (`--db postgresql://...`), on a server of the test's own
(Debian's package, `make postgres`): the fixture class grades into it with exact scores,
and two grading runs at once on the same gradebook leave it whole."""

import shutil
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

from autograder import sample
from autograder.course import ASSIGNMENT, COURSE_ID
from tests import postgres
from tests.helpers import ROOT, grade, results

REASON = postgres.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")
FIXTURES = ROOT / "tests" / "fixtures" / "class"
EXPECTED = {f"s{i:02d}_{name}": score for i, (name, (score, _)) in enumerate(sample.STUDENTS.items(), 1)}
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
