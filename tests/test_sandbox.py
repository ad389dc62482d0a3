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
