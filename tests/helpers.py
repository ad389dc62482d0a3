"""Small shared helpers for the tests."""

import filecmp
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from autograder import reference

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_step_by_step"
SOURCE = ROOT / "source" / ASSIGNMENT
RELEASE = ROOT / "release" / ASSIGNMENT
RNN = reference.named(ASSIGNMENT)   # the first assignment: its exercises, grading, reference


def notebooks(folder):
    return sorted(Path(folder).glob("*.ipynb"))


def read(path):
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def region(source, begin, end):
    """Lines strictly between the `begin` and `end` markers."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


IMAGE = re.compile(r"""<img[^>]*\bsrc=["']([^"']+)["']|!\[[^\]]*\]\(([^)\s]+)""")


def image_paths(markdown):
    return [a or b for a, b in IMAGE.findall(markdown)]


def grade(submissions, out, *extra, timeout="5"):
    """Run `python -m autograder grade` as an instructor would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
                           "--timeout", timeout, *extra], capture_output=True, text=True, cwd=ROOT, timeout=900)


def graded_class(tmp_path_factory, submissions, name="graded"):
    """Grade `submissions` with two workers into a fresh OUT; returns (OUT, the CompletedProcess)."""
    out = tmp_path_factory.mktemp(name) / "out"
    run = grade(submissions, out, "--workers", "2")
    assert run.returncode == 0, run.stderr
    return out, run


def results(out, student):
    """OUT/results/<student>.json, parsed."""
    return json.loads((Path(out) / "results" / f"{student}.json").read_text())


def assert_same_tree(committed, fresh, remedy):
    """The files under `committed` are exactly those under `fresh` (a regenerated copy), byte
    for byte; else fail saying which are stale and the command (`remedy`) that refreshes them."""
    committed, fresh = Path(committed), Path(fresh)
    ours = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert ours == theirs, f"{committed} has other files than a fresh copy, run `{remedy}`"
    stale = [str(p) for p in ours if not filecmp.cmp(committed / p, fresh / p, shallow=False)]
    assert not stale, f"{committed} is stale, run `{remedy}`: {stale}"


def process_state(pid):
    """The state letter of process `pid` ("R", "S", "Z" for a zombie...), or None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def stop(process, timeout=30):
    """Terminate a server a test started, killing it if it does not stop within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
