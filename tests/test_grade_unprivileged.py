"""Grading as an ordinary user, as most instructors run nbgrader (a laptop, a JupyterHub account):
the hostile corpus and students of the fixture class get their exact scores, nothing of the sandbox
survives, and OUT holds no file larger than the sandbox's disk quota. Of the class, the students
whose grading takes a path the corpus does not (a named mistake, a notebook that is not JSON, one
missing, a duplicated cell that makes nbgrader fail the run): its endless loop and dead kernel are
the corpus's h16 and h11-h13 too, and each waited out three timeouts or restarts here, a
minute of the slowest setup of CI's run.

As root (CI), the grader runs as `nobody`, the way it would run for a user without root: a first
bwrap (root) gives the command a mount namespace in which folders `nobody` could not pass on the
way to the repository and the Python installation (/root is 0700) are replaced by a tmpfs holding
just those, read-only; an instructor's own Python is readable by them. Run by an ordinary user,
the test grades as that user.
"""

import csv
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import sample, sandbox
from tests import hostile
from tests.helpers import RNN, ROOT, results

USER = pwd.getpwnam("nobody").pw_uid if sandbox.running_as_root() else os.getuid()
# The run's cgroup only finds its processes: no limit of its own beyond the machine's.
RUN_CGROUP_LIMITS = sandbox.Limits(memory_bytes=2 ** 40, processes=2 ** 20)
CLASS = ("s03_tanh_twice", "s09_invalid_json", "s10_missing_notebook", "s13_duplicated_answer_cell")
EXPECTED = {**{student: score for student, score in
               ((f"s{i:02d}_{name}", score) for i, (name, (score, _)) in enumerate(sample.students(RNN).items(), 1))
               if student in CLASS},
            **hostile.expected(as_root=False)}


def _readable_view(paths):
    """bwrap options under which `USER` can reach `paths`: each first ancestor it may not pass
    becomes a tmpfs into which the paths below it are bound back, read-only."""
    blocked = {}
    for path in map(lambda p: Path(p).resolve(), paths):
        for depth in range(2, len(path.parts) + 1):
            ancestor = Path(*path.parts[:depth])
            if not ancestor.stat().st_mode & 0o001:
                blocked.setdefault(str(ancestor), []).append(str(path))
                break
    options = []
    for ancestor, inside in sorted(blocked.items()):
        options += ["--tmpfs", ancestor]
        for path in inside:
            # bwrap would make the folders on the way 0700, root's: made 0755 here
            for depth in range(len(Path(ancestor).parts) + 1, len(Path(path).parts)):
                options += ["--perms", "0755", "--dir", str(Path(*Path(path).parts[:depth]))]
            options += ["--ro-bind", path, path]
    return options


def as_user(command, home):
    if not sandbox.running_as_root():
        return command
    view = _readable_view([ROOT, sys.base_prefix, sys.prefix])
    return ["bwrap", "--dev-bind", "/", "/", *view, "--", "setpriv", f"--reuid={USER}", f"--regid={USER}",
            "--clear-groups", "env", f"HOME={home}", *command]


def _joining(run_cgroup):
    """The command prefix that puts a command (and all it starts) in `run_cgroup`."""
    return ["/bin/sh", "-c", sandbox.JOIN_CGROUPS, "sh", *map(str, run_cgroup.folders), "--"] if run_cgroup else []


@pytest.fixture(scope="module")
def graded():
    base = Path(tempfile.mkdtemp(prefix="unprivileged-", dir="/tmp"))
    os.chmod(base, 0o755)
    submissions, out, home = base / "submissions", base / "out", base / "home"
    for student in EXPECTED:
        fixtures = "class" if student in CLASS else "hostile"
        shutil.copytree(ROOT / "tests" / "fixtures" / fixtures / student, submissions / student)
    home.mkdir()
    os.chown(home, USER, -1)
    os.chown(base, USER, -1)  # OUT is made by the user
    # h35's ten children write 2.5 GiB: seconds on a loaded machine, and its trick gives the right
    # answer when the cell is interrupted (CI, with the hostile corpus as root beside it, once
    # took more than 10 s: 24 instead of 21). As root it scores 24 either way.
    command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--timeout", "20",
               "--workers", "2"]
    run_cgroup = sandbox.Cgroup.create(f"unprivileged-test-{os.getpid()}", RUN_CGROUP_LIMITS) \
        if sandbox.running_as_root() else None
    run = subprocess.run(_joining(run_cgroup) + as_user(command, home), capture_output=True, text=True, cwd=ROOT, timeout=1500)
    yield out, run, run_cgroup
    if run_cgroup:
        run_cgroup.remove()
    shutil.rmtree(base, ignore_errors=True)


def test_every_student_gets_the_exact_score_as_an_ordinary_user(graded):
    out, run, _ = graded
    assert run.returncode == 0, run.stderr[-3000:]
    assert "in a user namespace" in run.stdout, run.stdout  # the grader says what it enforces
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    got = {student: float(row["score"]) for student, row in rows.items()}
    # What went wrong for a student whose score differs: the status, and their failed tests' messages.
    assert got == EXPECTED, "\n".join(f"{student}: {rows.get(student, {}).get('status')}: {_failures(out, student)}"
                                      for student in EXPECTED if got.get(student) != EXPECTED[student])


def _failures(out, student):
    try:
        return [f"{test['name']}: {test['output'][:300]}" for test in results(out, student)["tests"]
                if test["score"] < test["max_score"]]
    except OSError:
        return "no results"


def test_what_the_user_grades_belongs_to_the_user_and_nothing_survives(graded):
    out, _, run_cgroup = graded
    assert {path.stat().st_uid for path in out.rglob("*")} == {USER}
    assert _survivors(out, run_cgroup) == {}


def test_the_survivor_check_finds_the_runs_processes_and_only_those(graded):
    """What made the check above fail in CI: tests/test_sandbox.py's sandboxes of `nobody`,
    running beside it, were counted as this run's."""
    out, _, run_cgroup = graded
    hold = [sys.executable, "-c", "import sys, time; time.sleep(60)"]
    another_tests = subprocess.Popen(as_user(hold, "/tmp"), start_new_session=True)
    left_by_the_run = subprocess.Popen(_joining(run_cgroup) + as_user(hold + [str(out)], "/tmp"), start_new_session=True)
    try:
        time.sleep(1)  # both started
        survivors = _survivors(out, run_cgroup, grace=0).values()
        assert any(command.endswith(f"time.sleep(60) {out} ") for command in survivors), survivors
        assert not any(command.endswith("time.sleep(60) ") for command in survivors), survivors
    finally:
        for process in (another_tests, left_by_the_run):
            os.killpg(process.pid, 9)
            process.wait()


def _survivors(out, run_cgroup, grace=2.0):
    """{pid: command line} of this run's processes still alive `grace` seconds after it returned
    (a kernel killed as its grader exits takes a moment to go). As root, every process the run
    started is in `run_cgroup`, which a process of `USER` cannot leave; other tests run processes
    as `nobody` at the same time (tests/test_sandbox.py), so its uid alone does not say whose a
    process is. An ordinary user runs other things too: their processes that name OUT."""
    deadline = time.monotonic() + grace
    while True:
        if run_cgroup:
            pids = (run_cgroup.folders[0] / "cgroup.procs").read_text().split()
        else:
            pids = [p.name for p in os.scandir("/proc") if p.name.isdigit() and _owner(p.name) == USER
                    and str(out) in _cmdline(p.name)]
        if not pids or time.monotonic() > deadline:
            return {pid: _cmdline(pid).replace("\0", " ") for pid in pids}
        time.sleep(0.1)


def test_out_holds_no_file_larger_than_the_disk_quota(graded):
    out, *_ = graded
    largest = max(path.stat().st_size for path in out.rglob("*") if path.is_file())
    assert largest < sandbox.Limits().disk_bytes
    assert sum(path.stat().st_size for path in out.rglob("*") if path.is_file()) < 200 * 2 ** 20


def test_hostile_answers_found_nothing_to_use(graded):
    out, *_ = graded
    for student in ("h20_reads_hidden_from_disk", "h21_writes_gradebook", "h23_network", "h33_reads_notes"):
        assert results(out, student)["score"] == EXPECTED[student], student
    assert not any(ROOT.glob(".venv/lib/python*/site-packages/zz_hostile.pth"))


def _owner(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""
