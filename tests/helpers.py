"""Small shared helpers for the tests."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_step_by_step"
SOURCE = ROOT / "source" / ASSIGNMENT
RELEASE = ROOT / "release" / ASSIGNMENT


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
