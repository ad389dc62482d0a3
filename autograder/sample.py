"""`python -m autograder sample-class OUTDIR`: a class of sample submissions for each
assignment (or the one `--assignment` names), made from release/.

Each student starts from the release notebooks with the answer cells filled in from
the source's solution cells (the one copy of the answers), then gets one edit: a
typical mistake, a blank notebook, or a broken file. `make demo` grades this class,
tests/fixtures/class/ is this class (a test keeps it fresh), and bench/ grades copies
of it. An assignment declares its students in grading.py, SAMPLE_STUDENTS: name -> (the
exact score it must get, edit), made with the edits below; without a declaration it gets
the students every assignment has (complete, blank, a notebook missing), scored from its points.
"""

import json
import re
import shutil
from pathlib import Path

import nbformat

from . import reference
from .course import ROOT

SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n", re.S | re.M)


def answered(release_nb, source_nb):
    """The release notebook with every answer cell holding the source's solution."""
    solutions = {c.metadata["nbgrader"]["grade_id"]: SOLUTION.sub(r"\1", c.source)
                 for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in release_nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    return release_nb


def replace(notebook, grade_id, old, new):
    """Edit one cell's code; fails loudly if the code to edit is not there."""
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    if old not in cell.source:
        raise ValueError(f"{grade_id}: {old!r} not found; update the SAMPLE_STUDENTS of its grading.py")
    cell.source = cell.source.replace(old, new)


def drop_cell(notebook, grade_id):
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]


def duplicate_cell(notebook, grade_id):
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    copy = nbformat.from_dict(json.loads(json.dumps(notebook.cells[index])))
    copy["id"] = notebook.cells[index]["id"] + "-copy"  # as JupyterLab does: a new cell id, same metadata
    notebook.cells.insert(index, copy)


def students(assignment):
    """{name: (exact score, edit)}: the assignment's SAMPLE_STUDENTS, or the students every
    assignment has, scored from the points of its source."""
    declared = getattr(assignment.grading, "SAMPLE_STUDENTS", None)
    if declared:
        return dict(declared)
    from .grade.report import grade_cells
    cells = grade_cells(assignment.source)
    total = sum(cell.points for cell in cells)
    first = min(cell.notebook for cell in cells)
    return {"complete": (total, lambda nbs: None),
            "blank": (0, lambda nbs: nbs.update(blank=True)),
            "missing_notebook": (total - sum(c.points for c in cells if c.notebook == first),
                                 lambda nbs: nbs.update({first: None}))}


def student_ids(assignment):
    """{student id: (name, exact score)} of the assignment's sample class, in order."""
    return {f"s{number:02d}_{name}": (name, score)
            for number, (name, (score, _)) in enumerate(students(assignment).items(), 1)}


def student_notebooks(assignment, edit_name, release=None):
    """{notebook name: bytes} for one sample student of `assignment` (an Assignment)."""
    release = Path(release or ROOT / "release" / assignment.name)
    source = assignment.source
    notebooks = {}
    # The graded notebooks, those of source/ (release/ also holds the ungraded lab, which the grader sets aside).
    for path in sorted(source.glob("*.ipynb")):
        release_nb = nbformat.read(release / path.name, as_version=4)
        notebooks[path.stem] = answered(release_nb, nbformat.read(path, as_version=4))
    students(assignment)[edit_name][1](notebooks)
    if notebooks.pop("blank", False):
        notebooks = {path.stem: nbformat.read(release / path.name, as_version=4)
                     for path in sorted(source.glob("*.ipynb"))}
    return {name: nb if isinstance(nb, bytes) else nbformat.writes(nb).encode() + b"\n"
            for name, nb in notebooks.items() if nb is not None}


def write_class(out, copies=1, assignments=None):
    """Write the sample class of each assignment (names; default: every one) in nbgrader's
    submitted layout, <student>/<assignment>/; returns {assignment: {student_id: expected score}}."""
    out = Path(out)
    expected = {}
    for name in assignments or reference.assignments():
        assignment = reference.named(name)
        expected[name] = {}
        for copy in range(1, copies + 1):
            for student, (edit, score) in student_ids(assignment).items():
                student += f"_{copy}" if copies > 1 else ""
                folder = out / student / name
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                for notebook, data in student_notebooks(assignment, edit).items():
                    (folder / f"{notebook}.ipynb").write_bytes(data)
                (folder / "timestamp.txt").write_text("2026-11-20 17:00:00 UTC\n")
                expected[name][student] = score
    return expected


def main(args):
    expected = write_class(args.outdir, args.copies, [args.assignment] if args.assignment else None)
    print(f"wrote {sum(map(len, expected.values()))} submissions of {', '.join(expected)} to {args.outdir}")
    return 0
