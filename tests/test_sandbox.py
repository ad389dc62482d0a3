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


def sandboxed(folder, children):
    """The command that runs HOLD in a sandbox of the grader's own making, forking `children`."""
    policy = {"limits": asdict(sandbox.Limits(processes=20)), "python": sorted({sys.base_prefix, sys.prefix}),
              "runtime": str(folder), "lib": str(folder), "requests": str(folder)}
    return sandbox.bwrap_command(policy, str(folder), [sys.executable, "-c", HOLD, str(children)])


def test_a_fork_bomb_does_not_starve_a_classmate_running_as_the_same_user():
    folder = Path(tempfile.mkdtemp(prefix="sandbox-", dir="/tmp"))
    os.chmod(folder, 0o755)
    home = folder / "home"
    home.mkdir()
    os.chown(home, USER, -1)
    bomb = subprocess.Popen(as_user(sandboxed(folder, 500), home), stdout=subprocess.PIPE, text=True)
    assert int(bomb.stdout.readline()) < 20  # its own limit stopped it, and it holds what it made
    classmate = subprocess.run(as_user(sandboxed(folder, 10), home), capture_output=True, text=True, timeout=60)
    assert classmate.stdout.split() == ["10"], classmate.stderr
    bomb.wait(timeout=60)
