"""The sandbox itself, outside nbgrader: two sandboxes of one user at once.

Run as `nobody` when the tests run as root (as tests/test_grade_unprivileged.py does), since
that is where sandboxes share a user: without root every kernel runs as the instructor."""

import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from autograder import sandbox
from tests.test_grade_unprivileged import USER, as_user

HOLD = """
import os, sys, time
born = 0
try:
    for _ in range(int(sys.argv[1])):
        if os.fork() == 0:
            time.sleep(6)
            os._exit(0)
        born += 1
except OSError:
    pass
print(born, flush=True)
time.sleep(6)
"""


def sandboxed(folder, source, *args):
    """The command that runs Python `source` in a sandbox of the grader's own making."""
    policy = {"limits": asdict(sandbox.Limits(processes=20)), "python": sorted({sys.base_prefix, sys.prefix}),
              "runtime": str(folder), "lib": str(folder), "requests": str(folder)}
    return sandbox.bwrap_command(policy, str(folder), [sys.executable, "-c", source, *map(str, args)])


def test_a_fork_bomb_does_not_starve_a_classmate_running_as_the_same_user():
    folder = Path(tempfile.mkdtemp(prefix="sandbox-", dir="/tmp"))
    os.chmod(folder, 0o755)
    home = folder / "home"
    home.mkdir()
    os.chown(home, USER, -1)
    bomb = subprocess.Popen(as_user(sandboxed(folder, HOLD, 500), home), stdout=subprocess.PIPE, text=True)
    assert int(bomb.stdout.readline()) < 20  # its own limit stopped it, and it holds what it made
    classmate = subprocess.run(as_user(sandboxed(folder, HOLD, 10), home), capture_output=True, text=True, timeout=60)
    assert classmate.stdout.split() == ["10"], classmate.stderr
    bomb.wait(timeout=60)


def test_numpy_in_a_kernel_is_the_same_size_on_any_machine():
    """OpenBLAS starts a thread per core, each with ~40 MiB of address space: on a many-core CI
    machine a kernel held most of its address-space limit before any student code (measured: the
    memory fan-out fixture scored differently there than on 2 cores)."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-", dir="/tmp"))
    os.chmod(folder, 0o755)
    report = "import numpy, re; print(*re.findall(r'Threads:\\s+(\\d+)', open('/proc/self/status').read()))"
    run = subprocess.run(sandboxed(folder, report), capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["1"], run.stderr


def test_what_a_killed_grader_left_is_removed_by_the_next():
    """A grader killed with SIGKILL (or by the OOM killer) runs no finalizer: its runtime folder in
    /tmp stays, and as root its cgroups, which the kernel keeps until removed (this machine had 139
    of each, from the tests that kill graders). The next sandbox removes them: only this user's, only
    of processes that have ended, only a cgroup with no process left."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    left = Path(tempfile.mkdtemp(prefix=f"{sandbox.RUNTIME_PREFIX}{ended.pid}-", dir=sandbox.RUNTIME_PARENT))
    (left / "kernel-1.json").write_text("{}")
    running = Path(tempfile.mkdtemp(prefix=f"{sandbox.RUNTIME_PREFIX}{os.getpid()}-", dir=sandbox.RUNTIME_PARENT))
    root = sandbox.running_as_root()
    cgroups = {pid: sandbox.Cgroup.create(f"autograder-{pid}-{sandbox.RUNTIME_PREFIX}{pid}-test", sandbox.Limits())
               for pid in (ended.pid, os.getpid())} if root else {}
    try:
        sandbox.remove_leftovers()
        assert not left.exists() and running.exists()
        if root:
            assert cgroups[ended.pid] and cgroups[os.getpid()], "root makes cgroups here"
            assert not [f for f in cgroups[ended.pid].folders if f.exists()]
            assert all(f.exists() for f in cgroups[os.getpid()].folders)
    finally:
        running.rmdir()
        for cgroup in cgroups.values():
            cgroup and cgroup.remove()
