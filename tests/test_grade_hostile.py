"""Hardening, end to end: the corpus of tests/hostile.py graded through the command.

For each broken or hostile submission: the affected tests score zero with a reason,
every untouched right answer keeps its points (the exact score says so), and the rest
of the batch is unchanged (every other student's exact score). Plus: nothing the
sandbox user started survives, feedback and results never show hidden test source,
and an interrupted run resumes.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import hidden, probe, sandbox, warm
ASSIGNMENT = "rnn_step_by_step"  # the first assignment
from tests import hostile
from tests.helpers import RNN, ROOT, grade, graded_class, process_state, results

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
    assert got == EXPECTED, "\n".join(
        f"{student}: {[(test['name'], test['output'][:300]) for test in results(out, student)['tests'] if test['score'] < test['max_score']]}"
        for student in EXPECTED if got[student] != EXPECTED[student])


@pytest.mark.parametrize("student", sorted(SPECS))
def test_affected_tests_fail_with_a_reason_and_the_rest_pass(graded, student):
    out, _ = graded
    root_score, user_score, failing, words, _ = SPECS[student]
    tests = results(out, student)["tests"]
    failed = [t for t in tests if t.get("status") == "failed"]  # a written answer awaiting its grade has none
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

    pids = [p.name for p in os.scandir("/proc") if p.name.isdigit()]
    assert [pid for pid in pids if _of_the_run(pid, out)] == []
    if AS_ROOT:  # a sandbox uid another test's grader holds right now is that grader's business
        def leftover(pid):
            try:
                uid = os.stat(f"/proc/{pid}").st_uid
            except OSError:
                return False  # gone
            return (sandbox.FIRST_UID <= uid < sandbox.FIRST_UID + 1000 and not sandbox.uid_in_use(uid)
                    and process_state(pid) not in (None, "Z"))
        assert [pid for pid in pids if leftover(pid)] == []


def _of_the_run(pid, out):
    """Whether process `pid` is a kernel (or a process it started) of the grading into `out`: in a
    folder of OUT (a kernel without the sandbox), or in a sandbox whose submission is a folder of
    OUT. Its working folder, sandbox.inside(...), is the same in every sandbox, other tests' too:
    the submission's mount names OUT (as a path of its file system, whose mount point may be an
    ancestor of OUT)."""
    try:
        if os.readlink(f"/proc/{pid}/cwd").startswith(str(out)):
            return True
        mounts = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
    except OSError:
        return False  # gone
    folders = {f"/{out.relative_to(ancestor)}/" for ancestor in out.parents}
    return any(fields[4] == f"{sandbox.INSIDE}/submission" and (fields[3] + "/").startswith(tuple(folders))
               for fields in map(str.split, mounts))


def test_the_survivor_check_tells_this_runs_sandboxes_from_another_tests(tmp_path):
    """A kernel of this run is found; one of another test's grading at the same time (also in
    /home/student/...) is not."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    ours, theirs = tmp_path / "out" / ".work" / "w" / "s" / "a", tmp_path / "other" / ".work" / "w" / "s" / "a"
    processes = []
    try:
        for folder in (ours, theirs):
            folder.mkdir(parents=True)
            processes.append(subprocess.Popen(
                ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(folder), f"{sandbox.INSIDE}/submission",
                 "--tmpfs", sandbox.inside(folder), "--chdir", sandbox.inside(folder), "--", *sleeper]))
        time.sleep(0.5)
        sleepers = [str(warm.innermost(process.pid)) for process in processes]  # bwrap's child
        assert [pid for pid in sleepers if _of_the_run(pid, tmp_path / "out")] == sleepers[:1]
    finally:
        for process in processes:
            process.kill()
            process.wait()


def test_feedback_and_results_show_no_hidden_test(graded):
    out, _ = graded
    for html in (out / "feedback").rglob("*.html"):
        text = html.read_text()
        assert "HIDDEN TESTS" not in text and "probe(" not in text and "hidden.check" not in text, html
        assert "BEGIN SOLUTION" not in text, html  # h27 prints every request it can read
        assert "FAKE BANNER" not in text, html  # h39 writes the grader's metadata into its notebook
    for path in (out / "results").glob("*.json"):
        text = path.read_text()
        assert "probe(" not in text and "Traceback" not in text and "HIDDEN" not in text, path


def test_student_code_could_not_touch_the_gradebook_or_the_grader(graded):
    out, _ = graded
    assert not (ROOT / "notes.txt").exists()
    gradebook = out / "course" / "gradebook.db"
    assert gradebook.stat().st_uid == os.getuid()
    # root or not, these attacks find nothing: their answers stay right
    assert EXPECTED["h20_reads_hidden_from_disk"] == EXPECTED["h21_writes_gradebook"] == 24
    assert not any(ROOT.glob(".venv/lib/python*/site-packages/zz_hostile.pth"))
    assert not any(Path(sys.base_prefix).glob("lib/python*/zz_hostile.pth"))


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


def test_a_crash_is_graded_again_not_served_from_the_cache(tmp_path):
    submissions, out = tmp_path / "class", tmp_path / "out"
    shutil.copytree(FIXTURES / "h01_control", submissions / "h01_control")
    assert grade(submissions, out, "--workers", "1").returncode == 0
    state = out / ".state" / "h01_control.json"
    saved = json.loads(state.read_text())
    saved["result"]["error"] = "the grading process crashed on this submission"
    state.write_text(json.dumps(saved))
    again = grade(submissions, out, "--workers", "1")
    assert again.returncode == 0 and "Grading 1 of 1 submissions" in again.stdout, again.stdout
    assert results(out, "h01_control")["score"] == 24


def test_answers_printed_for_one_submission_answer_no_other(graded, tmp_path):
    """The leak hidden inputs drawn per submission close (README, the probe): in rnn_backward's test
    cell the first submission asks the grader for rnn_cell_backward's answers on its hidden inputs
    (which the kernel reads) and prints them; its feedback shows them. They are the grader's answers
    on its inputs, and would pass its test (its rnn_cell_backward passes the visible tests); the
    resubmission that hard-codes them has inputs of its own, and scores what its own wrong
    rnn_cell_backward scores."""
    out, _ = graded
    first = next(student for student in SPECS if student.endswith("_prints_a_dependencys_answers"))
    table = hostile.printed_table((out / "feedback" / first / ASSIGNMENT / "3_rnn_backward.html").read_text())
    assert table, "the feedback shows no table: the attack's first step did not work"
    answers = hostile.harvested(table)
    # the draw the grader made for the first submission: its files under the course's key
    key = (out / "course" / hidden.KEY).read_bytes()
    draw = hidden.submission_draw(key, hidden.folder_files(out / "course" / "submitted" / first / ASSIGNMENT))
    cases = hidden.request(RNN, "rnn_cell_backward_values", draw)["cases"]
    assert len(answers) == len(cases) == len(RNN.hidden_cases)
    for da, cache in cases:
        got, right = answers[hashlib.sha256(da.tobytes()).hexdigest()[:16]], RNN.load().rnn_cell_backward(da, cache)
        assert got.keys() == right.keys() and all(np.allclose(got[k], right[k], rtol=1e-6) for k in right)
    # the resubmission: right on the first submission's inputs...
    notebooks = {path.stem: nbformat.read(path, as_version=4) for path in (FIXTURES / first / ASSIGNMENT).glob("*.ipynb")}
    hostile.hard_codes(notebooks, table)
    namespace = {"np": np}
    exec(next(c.source for c in notebooks[hostile.NB3].cells
              if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_cell_backward"), namespace)
    grade_id = "rnn_cell_backward_values"
    replies = probe.run(hidden.request(RNN, grade_id, draw), namespace, hidden.local_answer(RNN))
    assert hidden.verdict(RNN, grade_id, replies, draw) is None
    # ... graded in the same course (its key), on inputs of its own: it gains nothing
    second = "resubmits_the_printed_answers"
    folder = tmp_path / "class" / second / ASSIGNMENT
    folder.mkdir(parents=True)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    (tmp_path / "out" / "course").mkdir(parents=True)
    shutil.copy(out / "course" / hidden.KEY, tmp_path / "out" / "course" / hidden.KEY)
    run = grade(tmp_path / "class", tmp_path / "out", "--workers", "1")
    assert run.returncode == 0, run.stderr
    regraded = results(tmp_path / "out", second)
    assert regraded["score"] == EXPECTED[first] == 22  # 24 when every submission had the same inputs
    failed = [t for t in regraded["tests"] if t.get("status") == "failed"]
    assert [t["name"] for t in failed] == [grade_id]
    assert "rnn_cell_backward: wrong values" in failed[0]["output"]  # the hidden tests' verdict, not the visible


def test_plain_nbgrader_in_the_course_runs_kernels_in_the_sandbox(graded):
    """formgrader's Autograde button and `nbgrader autograde` read OUT/course/nbgrader_config.py:
    the same sandbox. Without it, the answer that searches the disk finds the hidden tests."""
    out, _ = graded
    student = "h20_reads_hidden_from_disk"
    run = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student", student, "--force"],
                         cwd=out / "course", capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    assert run.returncode == 0, run.stdout + run.stderr
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}", "rnn_step_by_step_course") as gb:
        assert gb.find_submission(ASSIGNMENT, student).score == 24


def test_the_graders_memory_is_not_the_kernels_to_spend(tmp_path):
    """300 MB printed and a 100 MB reply of nested lists: the coordinator and its worker stay small
    (each message part over 32 MiB is dropped unparsed, a cell keeps 1 MB of output). Measured: the
    worker peaks near 1.0 GiB (ZeroMQ and pyzmq each hold the 300 MB part once before it is dropped;
    ZMQ_MAXMSGSIZE would avoid that but cuts the kernel's output channel for good), the coordinator
    near 0.2 GiB; before the limits, 8.6 and 3.9 GB."""
    submissions = tmp_path / "class"
    for student in ("h01_control", "h08_output_300mb", "h29_nested_100mb_reply"):
        shutil.copytree(FIXTURES / student, submissions / student)
    command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(tmp_path / "out"),
               "--workers", "1", "--timeout", "5"]
    grader = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = {}
    while grader.poll() is None:
        for pid in [grader.pid] + _children(grader.pid):
            peaks[pid] = max(peaks.get(pid, 0), _peak_rss(pid))
        time.sleep(0.05)
    assert grader.returncode == 0, grader.stderr.read()
    assert len(peaks) >= 2 and max(peaks.values()) < 1536 * 2 ** 20 and peaks[grader.pid] < 512 * 2 ** 20, peaks
    assert {s: results(tmp_path / "out", s)["score"] for s in ("h08_output_300mb", "h29_nested_100mb_reply")} == \
        {"h08_output_300mb": EXPECTED["h08_output_300mb"], "h29_nested_100mb_reply": EXPECTED["h29_nested_100mb_reply"]}
    assert max(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file()) < 8 * 2 ** 20


def _children(pid):
    """The grader's worker processes: its children running the same program (kernels are further down)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "autograder" in \
                        Path(f"/proc/{entry.name}/cmdline").read_text():
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _peak_rss(pid):
    """VmHWM (the most resident memory a process has held), in bytes; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    """A submission that sleeps in every cell keeps a worker busy for minutes; Ctrl-C twice ends the
    run at once, and its sandbox with it."""
    submissions = tmp_path / "class"
    shutil.copytree(FIXTURES / "h16_sleep_past_timeout", submissions / "h16_sleep_past_timeout")
    command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(tmp_path / "out"),
               "--workers", "1", "--timeout", "120"]
    grader = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(15)  # the worker is in the submission, whose rnn_forward sleeps a minute per call
    assert grader.poll() is None
    grader.send_signal(signal.SIGINT)
    time.sleep(1)
    grader.send_signal(signal.SIGINT)
    start = time.monotonic()
    _, err = grader.communicate(timeout=60)
    assert grader.returncode == 130 and time.monotonic() - start < 30, err
    assert "Ctrl-C again to stop now" in err


# --- the second assignment: what a kernel can get out of the grader's line -----------------------

LM_FIXTURES = ROOT / "tests" / "fixtures" / "hostile_char_language_model"
LM_SPECS = {f"l{i:02d}_{name}": spec for i, (name, spec) in enumerate(hostile.LM_STUDENTS.items(), 1)}


@pytest.fixture(scope="module")
def graded_lm(tmp_path_factory):
    return graded_class(tmp_path_factory, LM_FIXTURES, "hostile_lm")


def test_the_second_assignments_corpus_gets_its_exact_scores(graded_lm):
    """A kernel asks the grader for its dependencies' answers: reading tables it no longer has, a
    call in the hope of a swap, an oracle kept for a later cell, or the grader asked for the
    function under test itself gain nothing, and cost the control nothing."""
    out, _ = graded_lm
    assert {student: results(out, student)["score"] for student in LM_SPECS} == hostile.lm_expected()
    for student, (_, failing, words, _) in LM_SPECS.items():
        failed = [t for t in results(out, student)["tests"] if t.get("status") == "failed"]
        assert [t["name"] for t in failed] == failing, student
        assert all(words in t["output"] for t in failed), (student, failed)
