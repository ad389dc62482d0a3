"""`python -m autograder sample-class OUTDIR`: a class of sample submissions, made from release/.

Each student starts from the release notebooks with the answer cells filled in from
the source's solution cells (the one copy of the answers), then gets one edit: a
typical mistake, a blank notebook, or a broken file. `make demo` grades this class,
tests/fixtures/class/ is this class (a test keeps it fresh), and bench/ grades copies
of it. Every edit states the exact score it must get (out of 24).
"""

import json
import re
import shutil
from pathlib import Path

import nbformat

from .course import ASSIGNMENT, ROOT

RELEASE = ROOT / "release" / ASSIGNMENT
SOURCE = ROOT / "source" / ASSIGNMENT
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
        raise ValueError(f"{grade_id}: {old!r} not found; update autograder/sample.py")
    cell.source = cell.source.replace(old, new)


def drop_cell(notebook, grade_id):
    notebook.cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]


def duplicate_cell(notebook, grade_id):
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    copy = nbformat.from_dict(json.loads(json.dumps(notebook.cells[index])))
    copy["id"] = notebook.cells[index]["id"] + "-copy"  # as JupyterLab does: a new cell id, same metadata
    notebook.cells.insert(index, copy)


NB1, NB2, NB3, NB4 = "1_rnn_cell_forward", "2_rnn_forward", "3_rnn_backward", "4_lstm"

# name -> (score out of 24, edit(notebooks: {name: NotebookNode or bytes or None}))
STUDENTS = {
    "complete": (24, lambda nbs: None),
    "blank": (0, lambda nbs: nbs.update(blank=True)),
    "tanh_twice": (22, lambda nbs: replace(nbs[NB3], "rnn_cell_backward", "(1 - a_next ** 2)",
                                            "(1 - np.tanh(a_next) ** 2)")),
    "yt_from_a_prev": (22, lambda nbs: replace(nbs[NB1], "rnn_cell_forward", "softmax(Wya @ a_next + by)",
                                                "softmax(Wya @ a_prev + by)")),
    "a0_every_step": (22, lambda nbs: replace(nbs[NB2], "rnn_forward", "x[:, :, t], a_next, parameters",
                                               "x[:, :, t], a0, parameters")),
    "time_forwards": (22, lambda nbs: replace(nbs[NB3], "rnn_backward", "reversed(range(T_x))", "range(T_x)")),
    "float32": (24, lambda nbs: replace(nbs[NB1], "rnn_cell_forward", "a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)",
                                         "a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba, dtype='float32')")),
    # A right answer whose code triggers a numpy RuntimeWarning: nbgrader alone zeroes the test
    # cell that prints it (1 point); we keep its points.
    "numpy_warning": (24, lambda nbs: replace(nbs[NB1], "rnn_cell_forward", "    cache = (a_next",
                                               "    np.exp(np.float64(1000.0))  # overflows: a RuntimeWarning\n"
                                               "    cache = (a_next")),
    "invalid_json": (21, lambda nbs: nbs.update({NB2: b'{"cells": [ this is not json'})),
    "missing_notebook": (18, lambda nbs: nbs.update({NB3: None})),
    # The browser's duplicate suffix, as a student's second download names the file: still notebook 1.
    "renamed_notebook": (24, lambda nbs: nbs.update({NB1: None, f"{NB1} (1)": nbs[NB1]})),
    # A deleted test cell is put back and run (RestoreMissingCells): deleting a test gains nothing
    # and, for code that passes it, loses nothing.
    "deleted_test_cell": (24, lambda nbs: drop_cell(nbs[NB2], "rnn_forward_values")),
    "duplicated_answer_cell": (24, lambda nbs: duplicate_cell(nbs[NB1], "rnn_cell_forward")),
    "infinite_loop": (21, lambda nbs: replace(nbs[NB2], "rnn_forward", "    caches = (caches, x)",
                                              "    while True:\n        pass\n    caches = (caches, x)")),
    # The kernel dies in rnn_cell_backward's tests: those score 0, rnn_backward keeps its points.
    "dead_kernel": (21, lambda nbs: replace(nbs[NB3], "rnn_cell_backward", "    gradients = {",
                                            "    import os; os._exit(1)\n    gradients = {")),
    "lstm_dc_next_forgotten": (22, lambda nbs: replace(nbs[NB4], "lstm_cell_backward", "dc = dc_next + da_next",
                                                        "dc = da_next")),
}


def student_notebooks(edit_name):
    """{notebook name: bytes} for one sample student."""
    notebooks = {}
    # The graded notebooks, those of source/ (release/ also holds the ungraded lab, which the grader sets aside).
    for path in sorted(SOURCE.glob("*.ipynb")):
        release_nb = nbformat.read(RELEASE / path.name, as_version=4)
        notebooks[path.stem] = answered(release_nb, nbformat.read(path, as_version=4))
    STUDENTS[edit_name][1](notebooks)
    if notebooks.pop("blank", False):
        notebooks = {path.stem: nbformat.read(RELEASE / path.name, as_version=4)
                     for path in sorted(SOURCE.glob("*.ipynb"))}
    return {name: nb if isinstance(nb, bytes) else nbformat.writes(nb).encode() + b"\n"
            for name, nb in notebooks.items() if nb is not None}


def write_class(out, copies=1):
    """Write the sample class in nbgrader's submitted layout; returns {student_id: expected score}."""
    out = Path(out)
    expected = {}
    for copy in range(1, copies + 1):
        for number, name in enumerate(STUDENTS, 1):
            student = f"s{number:02d}_{name}" + (f"_{copy}" if copies > 1 else "")
            folder = out / student / ASSIGNMENT
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for notebook, data in student_notebooks(name).items():
                (folder / f"{notebook}.ipynb").write_bytes(data)
            (folder / "timestamp.txt").write_text("2026-11-20 17:00:00 UTC\n")
            expected[student] = STUDENTS[name][0]
    return expected


def main(args):
    expected = write_class(args.outdir, args.copies)
    print(f"wrote {len(expected)} submissions to {args.outdir}")
    return 0
