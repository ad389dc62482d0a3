"""`python -m autograder release`: regenerate release/ from source/, for every assignment
(or the one `--assignment` names).

1. Refresh source/<assignment>/visible_expected.json from the reference solutions.
2. Run nbgrader's generate_assignment (solutions replaced by stubs, hidden tests
   removed, outputs cleared, checksums recorded; grading.py left out) with a throwaway gradebook.
3. Copy the figures beside the notebooks: nbgrader does not follow the `images`
   symlink of the source folder.
4. Copy the ungraded lab (notebooks/char_rnn_lab.ipynb, and its data/) beside the
   notebooks it trains, without outputs, reading the student's own notebooks (FOLDER = ".").
   It is not in source/: the grader takes every notebook there for one of the assignment,
   to be submitted and autograded (a lab missing from a submission would be reported,
   and its training run in every student's grading).
"""

import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from . import reference
from .course import ROOT, generate_assignment


class ReleaseError(RuntimeError):
    pass


def generate(root=ROOT, db_url=None, assignment=None):
    """Build root/release/<assignment>/ from root/source/<assignment>/ for `assignment`, or for
    every assignment of the course; returns the paths made."""
    root = Path(root)
    names = [assignment] if assignment else reference.assignments(root / "source")
    if not names:
        raise ReleaseError(f"no assignment in {root / 'source'}: nothing to release.")
    return [generate_one(root, name, db_url) for name in names]


def generate_one(root, assignment, db_url=None):
    """Build root/release/<assignment>/ from root/source/<assignment>/, return its path."""
    source = root / "source" / assignment
    if not source.is_dir():
        raise ReleaseError(f"no source folder {source}: nothing to release.")
    reference.of(source).write_visible_expected()
    with tempfile.TemporaryDirectory() as tmp:
        result = generate_assignment(root, db_url or f"sqlite:///{tmp}/release_gradebook.db", assignment)
    if not result["success"]:
        raise ReleaseError("nbgrader generate_assignment failed:\n" + result.get("error", "") + result.get("log", ""))
    release = root / "release" / assignment
    if (source / "images").is_dir():
        shutil.copytree(source / "images", release / "images", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    if assignment == LAB_GOES_WITH:
        copy_lab(root / "notebooks", release)
    return release


LAB = "char_rnn_lab.ipynb"
LAB_GOES_WITH = "rnn_step_by_step"   # the assignment whose notebooks the lab trains
LAB_DATA = "data"
# The instructors' copy reads the reference solutions; the student's reads the notebooks beside it.
LAB_FOLDER = re.compile(r'^FOLDER = .*$', re.M)
STUDENT_FOLDER = 'FOLDER = "."'
# "# NBVAL_IGNORE_OUTPUT" and the comment saying why, at the top of a cell.
NBVAL_NOTE = re.compile(r"\A# NBVAL_\w+\n(# \(nbval:.*\n)?")


def copy_lab(notebooks, release):
    """notebooks/<LAB> and its data into `release`, as students get it: no outputs, no notes
    for nbval, and FOLDER pointing at the folder it sits in."""
    nb = nbformat.read(notebooks / LAB, as_version=4)
    found = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            cell.source, n = LAB_FOLDER.subn(STUDENT_FOLDER, cell.source)
            found += n
            cell.source = NBVAL_NOTE.sub("", cell.source)  # the tests' business, not the student's
    if found != 1:
        raise ReleaseError(f"{notebooks / LAB} must set FOLDER once, on a line `FOLDER = ...`; found {found}.")
    nbformat.write(nb, release / LAB)
    shutil.copytree(notebooks / LAB_DATA, release / LAB_DATA, dirs_exist_ok=True)


def main(args):
    try:
        for path in generate(assignment=args.assignment):
            print(f"released {path.relative_to(ROOT)}/")
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
