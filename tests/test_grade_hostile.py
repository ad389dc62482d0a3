"""Hardening, end to end: the corpus of tests/hostile.py graded through the command.

For each broken or hostile submission: the affected tests score zero with a reason,
every untouched right answer keeps its points (the exact score says so), and the rest
of the batch is unchanged (every other student's exact score). Plus: nothing the
sandbox user started survives, feedback and results never show hidden test source,
and an interrupted run resumes.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.course import ASSIGNMENT
from tests import hostile
from tests.helpers import ROOT, grade, graded_class, results

FIXTURES = ROOT / "tests" / "fixtures" / "hostile"
AS_ROOT = sandbox.running_as_root()
EXPECTED = hostile.expected(AS_ROOT)
SPECS = {f"h{i:02d}_{name}": spec for i, (name, spec) in enumerate(hostile.STUDENTS.items(), 1)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return graded_class(tmp_path_factory, FIXTURES, "hostile")


def test_corpus_is_large_enough():
    assert len(EXPECTED) + 15 >= 30 and len(EXPECTED) == len(list(FIXTURES.iterdir()))


def test_every_submission_gets_its_exact_score(graded):
    out, _ = graded
    got = {student: results(out, student)["score"] for student in EXPECTED}
    assert got == EXPECTED


@pytest.mark.parametrize("student", sorted(SPECS))
def test_affected_tests_fail_with_a_reason_and_the_rest_pass(graded, student):
    out, _ = graded
    root_score, user_score, failing, words, _ = SPECS[student]
    tests = results(out, student)["tests"]
    failed = [t for t in tests if t["status"] == "failed"]
    if AS_ROOT or root_score == user_score:
        assert [t["name"] for t in failed] == failing
    for test in failed:
        assert test["score"] == 0 and test["output"], test
    if failing and words:
        text = " ".join(t["output"] for t in failed) + results(out, student)["output"]
        assert words in text, failed[0]["output"]


def test_no_process_a_submission_started_survives(graded):
    """The fork bomb's children, the endless loops, the sleepers: all gone."""
    out, _ = graded

    def cwd(pid):
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return ""
    pids = [p.name for p in os.scandir("/proc") if p.name.isdigit()]
    assert [pid for pid in pids if cwd(pid).startswith(str(out))] == []
    if AS_ROOT:  # a sandbox uid another test's grader holds right now is that grader's business
        def leftover(pid):
            try:
                uid = os.stat(f"/proc/{pid}").st_uid
            except OSError:
                return False  # gone
            return (sandbox.FIRST_UID <= uid < sandbox.FIRST_UID + 1000 and not sandbox.uid_in_use(uid)
                    and sandbox._state_of(Path(f"/proc/{pid}"), uid) not in (None, "Z"))
        assert [pid for pid in pids if leftover(pid)] == []


def test_feedback_and_results_show_no_hidden_test(graded):
    out, _ = graded
    for html in (out / "feedback").rglob("*.html"):
        text = html.read_text()
        assert "HIDDEN TESTS" not in text and "probe(" not in text and "hidden.check" not in text, html
    for path in (out / "results").glob("*.json"):
        text = path.read_text()
        assert "probe(" not in text and "Traceback" not in text and "HIDDEN" not in text, path


def test_student_code_could_not_touch_the_gradebook_or_the_grader(graded):
    out, _ = graded
    assert not (ROOT / "notes.txt").exists()
    gradebook = out / "course" / "gradebook.db"
    assert gradebook.stat().st_uid == 0 or not AS_ROOT
    if AS_ROOT:  # as root, these attacks find nothing: their answers stay right
        assert EXPECTED["h20_reads_hidden_from_disk"] == EXPECTED["h21_writes_gradebook"] == 24


def test_an_interrupted_run_resumes(tmp_path):
    submissions = tmp_path / "class"
    for student in ["h01_control", "h05_edited_test_cell", "h17_patched_comparisons", "h22_imports_grader"]:
        shutil.copytree(FIXTURES / student, submissions / student)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--workers", "1",
               "--timeout", "5"]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = out / ".state"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (state.exists() and any(state.iterdir())):
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "run the same command again" in err, err
    done = len(list(state.iterdir()))
    assert 1 <= done < 4
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and f"Grading {4 - done} of 4 submissions" in second.stdout, second.stdout
    scores = {s: results(out, s)["score"] for s in ["h01_control", "h05_edited_test_cell", "h17_patched_comparisons",
                                                   "h22_imports_grader"]}
    assert scores == {s: EXPECTED[s] for s in scores}
