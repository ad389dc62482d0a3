"""`autograder serve` and `autograder submit`: grading that stays up (autograder/grade/service.py).

One service for the module, as an instructor would run it: submissions handed in one by one and
at once get the scores `grade` gives them, into the same OUT; what is not a submission, or not a
request, is answered in one sentence and the service goes on; only the instructor may submit;
`grade` does not run on a served OUT; SIGTERM writes the class's reports and leaves nothing."""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder import sample, sandbox, submit

from .helpers import ASSIGNMENT, ROOT, grade, process_state

# Students whose paths differ: complete, a named mistake, a notebook that is not JSON, a missing one.
STUDENTS = ("s01_complete", "s03_tanh_twice", "s09_invalid_json", "s10_missing_notebook")


def submit_command(submissions, out, *extra):
    return run([sys.executable, "-m", "autograder", "submit", str(submissions), "--out", str(out), *extra])


def run(command):
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def as_nobody(command):
    return run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command])


def start_service(out, assignment=ASSIGNMENT, output=subprocess.DEVNULL, log=None):
    """`serve --out OUT` of `assignment` with two workers, once its socket is there (its output
    to `output`; `log`: the file it is, shown when the service does not start)."""
    process = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--out", str(out), "--assignment",
                                assignment, "--workers", "2", "--timeout", "5"], cwd=ROOT,
                               stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while not (out / submit.SOCKET).exists():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text() if log else ""
            time.sleep(0.1)
    except AssertionError:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return process


def descendants(pid):
    """Every process started by `pid`, and by those, now."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


@pytest.fixture(scope="module")
def served():
    base = Path(tempfile.mkdtemp(prefix="serve-", dir="/tmp"))
    os.chmod(base, 0o755)  # another user reaches OUT: only the socket's mode keeps them out
    expected = sample.write_class(base / "class", assignments=[ASSIGNMENT])[ASSIGNMENT]
    for student in STUDENTS:  # each student alone, as each would submit
        shutil.copytree(base / "class" / student, base / "alone" / student / student)
    out, log = base / "OUT", base / "service.log"
    with open(log, "w") as output:
        process = start_service(out, output=output, log=log)
    try:
        yield {"out": out, "process": process, "base": base, "expected": expected, "log": log}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def test_each_submission_gets_the_score_of_the_sample_class_and_its_results_file(served):
    out, alone = served["out"], served["base"] / "alone"
    # two at once, two one after the other
    both = [subprocess.Popen([sys.executable, "-m", "autograder", "submit", str(alone / student), "--out", str(out)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for student in STUDENTS[:2]]
    answers = [process.communicate(timeout=300) for process in both]
    assert [process.returncode for process in both] == [0, 0], answers
    for student in STUDENTS[2:]:
        answer = submit_command(alone / student, out)
        assert answer.returncode == 0, answer.stderr
        answers.append((answer.stdout, answer.stderr))
    for student, (stdout, _) in zip(STUDENTS, answers):
        results = out / "results" / f"{student}.json"
        score = served["expected"][student]
        assert stdout == f"{student}: {score:g} of 24 points; {results}\n"
        assert json.loads(results.read_text())["score"] == score
        assert (out / "feedback" / student / ASSIGNMENT).is_dir()
        assert (out / "course" / "autograded" / student / ASSIGNMENT).is_dir()


def test_a_submission_graded_before_is_not_graded_again(served):
    out = served["out"]
    again = submit_command(served["base"] / "alone" / STUDENTS[0], out)
    assert again.returncode == 0 and again.stdout.startswith(f"{STUDENTS[0]}: 24 of 24 points;")
    assert served["log"].read_text().splitlines()[-1].startswith("Graded 0 of 1 submissions")


def test_what_is_not_a_submission_is_answered_in_one_sentence_and_the_service_goes_on(served, tmp_path):
    out = served["out"]
    empty = tmp_path / "nothing here"
    empty.mkdir()
    answer = submit_command(empty, out)
    assert answer.returncode == 2 and answer.stdout == ""
    assert answer.stderr.startswith("error: ") and answer.stderr.count("\n") == 1
    missing = submit_command(tmp_path / "absent", out)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    for request in (b"not json\n", b'{"submissions": "relative/path"}\n', b'["a list"]\n',
                    b"x" * (submit.REQUEST_BYTES + 10)):
        with submit.connect(out) as client:
            client.sendall(request)
            reply = submit.Lines(client).read(submit.REPLY_BYTES, time.monotonic() + 30)
        assert json.loads(reply)["error"].startswith("the request is not one the service understands")
    assert served["process"].poll() is None
    assert submit_command(served["base"] / "alone" / STUDENTS[0], out).returncode == 0


def test_a_line_is_read_within_its_size_and_its_deadline():
    """What the service and the client read of each other: never more than a line's limit, never
    longer than its deadline (a client that connects and says nothing is dropped), and nothing
    lost of a line that came in the same chunk as the one before."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        lines = submit.Lines(ours)
        theirs.sendall(b"abc\nrest")
        assert lines.read(10, time.monotonic() + 5) == b"abc"
        theirs.sendall(b"\nfirst\nsecond\n")
        assert lines.read(10, time.monotonic() + 5) == b"rest"
        assert lines.read(10, time.monotonic() + 5) == b"first"
        assert lines.read(10, time.monotonic() + 5) == b"second"
        theirs.sendall(b"y" * 20)
        with pytest.raises(ValueError):
            lines.read(10, time.monotonic() + 5)
        theirs.sendall(b"y" * 20 + b"\n")
        with pytest.raises(ValueError):
            submit.Lines(ours).read(10, time.monotonic() + 5)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            submit.Lines(ours).read(10, time.monotonic() + 0.3)
        assert time.monotonic() - start < 5
        theirs.close()
        with pytest.raises(EOFError):
            submit.Lines(ours).read(10, time.monotonic() + 5)


def test_a_service_that_stops_between_the_results_and_the_pages_is_reported(tmp_path, capsys):
    """`submit` prints each score as it comes; a service that ends before the pages says why the
    command fails (exit 2): the scores are in, the pages are not, and submitting again makes them."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / submit.SOCKET))
    listener.listen(1)

    def service():
        connection = listener.accept()[0]
        submit.Lines(connection).read(submit.REQUEST_BYTES, time.monotonic() + 30)
        connection.sendall(json.dumps({"students": [{"student": "s01", "score": 24, "max_score": 24,
                                                     "results": "OUT/results/s01.json"}],
                                       "pages": "coming"}).encode() + b"\n")
        connection.close()
    thread = threading.Thread(target=service)
    thread.start()
    try:
        code = submit.main(argparse.Namespace(out=str(tmp_path), submissions=str(tmp_path), wait=30))
    finally:
        thread.join(timeout=30)
        listener.close()
    printed = capsys.readouterr()
    assert code == 2 and printed.out == "s01: 24 of 24 points; OUT/results/s01.json\n"
    assert "stopped before it made the feedback pages: submit again" in printed.err and printed.err.count("\n") == 1


def test_only_the_instructor_may_submit(served):
    """The socket is the instructor's (0600): another user's request would have the service read
    files with the instructor's rights."""
    out = served["out"]
    assert (out / submit.SOCKET).stat().st_mode & 0o777 == 0o600
    if os.getuid() == 0:  # (as another user, the test can only check the socket's mode)
        reach = as_nobody([sys.executable, "-c", f"import os; os.chdir({str(out)!r}); print(os.listdir())"])
        assert reach.returncode == 0 and submit.SOCKET in reach.stdout
        other = as_nobody([sys.executable, "-m", "autograder", "submit", str(served["base"] / "alone" / STUDENTS[0]),
                           "--out", str(out)])
        assert other.returncode == 2 and "Permission denied" in other.stderr


def test_grade_does_not_run_on_a_served_out(served):
    """grade's end removes OUT/.work, where the service's workers keep their files."""
    out = served["out"]
    graded = grade(served["base"] / "alone" / STUDENTS[0], out)
    assert graded.returncode == 2
    assert graded.stderr.startswith(f"error: {out} is served by `autograder serve`") and graded.stderr.count("\n") == 1
    assert (out / ".work").is_dir()
    assert submit_command(served["base"] / "alone" / STUDENTS[1], out).returncode == 0


def test_the_results_come_before_the_pages_and_a_kill_between_them_grades_again(served):
    """A submission graded alone (in parts) gets its results at once, and its feedback pages from
    the class gradebook after: the service says so twice. Until the pages are made the student's
    state owes them, so that a service killed between the two grades the student again."""
    out, student = served["out"], STUDENTS[1]
    state = out / ".state" / f"{student}.json"
    state.unlink()  # graded again, alone
    with submit.connect(out) as client:
        client.sendall(json.dumps({"submissions": str(served["base"] / "alone" / student)}).encode() + b"\n")
        lines = submit.Lines(client)
        first = json.loads(lines.read(submit.REPLY_BYTES, time.monotonic() + 300))
        assert first["pages"] == "coming" and first["students"][0]["score"] == served["expected"][student]
        assert json.loads((out / "results" / f"{student}.json").read_text())["score"] == served["expected"][student]
        assert json.loads(lines.read(submit.REPLY_BYTES, time.monotonic() + 300)) == {"pages": "made"}
    pages = out / "feedback" / student / ASSIGNMENT
    names = sorted(path.stem + ".html" for path in (ROOT / "source" / ASSIGNMENT).glob("*.ipynb"))
    assert sorted(page.name for page in pages.glob("*.html")) == names
    saved = json.loads(state.read_text())
    assert "pages_owed" not in saved
    # killed after the results, before the pages
    shutil.rmtree(pages)
    state.write_text(json.dumps(dict(saved, pages_owed=True)))
    again = submit_command(served["base"] / "alone" / student, out)
    assert again.returncode == 0 and served["log"].read_text().splitlines()[-1].startswith("Graded 1 of 1")
    assert sorted(page.name for page in pages.glob("*.html")) == names


def test_the_graders_own_failure_is_answered_and_the_service_goes_on(served):
    """A failure of the grader, not of a submission (here the states' folder cannot be written, as
    on a full disk), while a batch is recorded: its client is told in one sentence, and the service
    grades the same submission once the cause is mended."""
    out, student = served["out"], STUDENTS[0]
    (out / ".state").mkdir(exist_ok=True)
    (out / ".state" / f"{student}.json").unlink(missing_ok=True)  # graded anew
    (out / ".state").rename(out / ".state-kept")
    (out / ".state").write_text("not a folder")
    try:
        failed = submit_command(served["base"] / "alone" / student, out)
    finally:
        (out / ".state").unlink()
        (out / ".state-kept").rename(out / ".state")
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1, failed.stderr
    assert failed.stderr.startswith("error: the grader failed while grading or recording these submissions")
    assert served["process"].poll() is None
    again = submit_command(served["base"] / "alone" / student, out)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{student}: {served['expected'][student]:g} of ")


def test_a_part_nbgrader_fails_is_graded_again_with_the_earlier_notebooks_beside(tmp_path):
    """A submission alone is graded in parts (char_language_model with two workers: notebook 1,
    then notebooks 2 and 3). A test cell of notebook 2 marked as an answer makes nbgrader fail the
    part as a whole (the checksum of a locked cell). The part is then graded one notebook at a
    time, as a whole run would be, and notebook 3, which loads notebook 1's answers, still finds
    notebook 1 beside it: notebook 2 scores 0, notebook 3 keeps every point, and its page shows
    where its functions came from, not a LookupError that tells the student to restore cells they
    never changed (its tests call notebook 1's functions through the grader either way)."""
    assignment = "char_language_model"
    sample.write_class(tmp_path / "class", assignments=[assignment])
    student = tmp_path / "alone" / "s01_complete"
    shutil.copytree(tmp_path / "class" / "s01_complete", student / "s01_complete")
    path = student / "s01_complete" / assignment / "2_sampling.ipynb"
    notebook = nbformat.read(path, as_version=4)
    next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")
         and not cell.metadata.nbgrader.get("solution")).metadata.nbgrader["solution"] = True
    nbformat.write(notebook, path)
    out = tmp_path / "OUT"
    process = start_service(out, assignment)
    try:
        answer = submit_command(student, out)
        assert answer.returncode == 0, answer.stderr
    finally:
        process.terminate()
        process.wait(timeout=60)
    tests = json.loads((out / "results" / "s01_complete.json").read_text())["tests"]
    scores = {}
    for test in tests:
        got, most = scores.get(test["tags"][0], (0, 0))
        scores[test["tags"][0]] = (got + test["score"], most + test["max_score"])
    assert scores["2_sampling"][0] == 0 and scores["1_loss_and_clipping"][0] == scores["1_loss_and_clipping"][1] > 0
    assert scores["3_training"][0] == scores["3_training"][1] > 0, [t for t in tests if t["tags"] == ["3_training"]]
    page = (out / "feedback" / "s01_complete" / assignment / "3_training.html").read_text()
    assert "LookupError" not in page and "temporal_softmax_loss: from 1_loss_and_clipping.ipynb" in page


def test_a_service_killed_leaves_no_worker(tmp_path):
    """SIGKILL gives the service no time to stop its workers (nor a grade's coordinator): they end
    with it, and their fork servers with them, instead of waiting for jobs forever."""
    out = tmp_path / "OUT"
    process = start_service(out)
    try:
        # The socket can come before the second worker has started its fork server.
        deadline = time.monotonic() + 60
        while len(descendants(process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        started = descendants(process.pid)
        assert len(started) >= 4, "two workers and their fork servers"
        process.kill()
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while [pid for pid in started if _alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in started if _alive(pid)] == []
        # Nor can they remove their runtime folders (and as root their cgroups): the next sandbox does (here,
        # or one that another test starts meanwhile: so what is left is not counted before).
        def left():
            found = []
            for pid in started:
                found += Path(sandbox.RUNTIME_PARENT).glob(f"{sandbox.RUNTIME_PREFIX}{pid}-*")
                if sandbox.running_as_root():
                    found += Path("/sys/fs/cgroup").glob(f"**/autograder-{pid}-{sandbox.RUNTIME_PREFIX}*")
            return found
        sandbox.remove_leftovers()
        assert left() == []
    finally:
        os.killpg(process.pid, signal.SIGKILL)


def _alive(pid):
    """Whether `pid` runs (a zombie has ended: it only waits to be reaped)."""
    return process_state(pid) not in (None, "Z")


def test_sigterm_stops_the_service_with_the_class_reports_and_leaves_nothing(served):
    out, process = served["out"], served["process"]
    started = descendants(process.pid)
    assert started, "the workers and their fork servers"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == 0
    with open(out / "grades.csv") as grades:
        assert sorted(line.split(",")[0] for line in grades.read().splitlines()[1:]) == sorted(STUDENTS)
    assert not (out / submit.SOCKET).exists() and not (out / ".work").exists()
    time.sleep(1)
    assert [pid for pid in started if _alive(pid)] == []
    answer = submit_command(served["base"] / "alone" / STUDENTS[0], out)
    assert answer.returncode == 2 and "no grading service answers" in answer.stderr
