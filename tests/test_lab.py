"""The ungraded lab (notebooks/char_rnn_lab.ipynb) ships in the release and runs there as it
is: in the student's folder, on the student's own notebooks, with the rnn_utils.py beside it.

notebooks/ holds the instructors' copy, which nbval runs on the reference solutions;
`autograder release` copies it into release/ (see autograder/release.py for why it is not
in source/).
"""

import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import release, sample
from tests.helpers import RELEASE, ROOT, SOURCE, nbgrader_meta, notebooks, read

LAB = RELEASE / release.LAB


def run(folder, allow_errors=False):
    """The lab of `folder` executed there as in a plain JupyterLab: the kernel starts in
    `folder`, without the repository on PYTHONPATH. Returns the executed notebook."""
    nb = read(folder / release.LAB)
    nb.cells.append(nbformat.v4.new_code_cell("import os\nprint('FOLDER:', os.path.realpath(FOLDER))\n"
                                              "print('rnn_utils:', os.path.realpath(rnn_utils.__file__))"))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    NotebookClient(nb, timeout=300, allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute(env=env)
    return nb


def printed(nb):
    return "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
                   if o.output_type == "stream")


def student_folder(tmp_path, answered=True):
    """A copy of the release as a student has it, notebooks 1 to 4 answered (or not)."""
    folder = tmp_path / "rnn_step_by_step"
    shutil.copytree(RELEASE, folder)
    if answered:
        for path in notebooks(SOURCE):
            nbformat.write(sample.answered(read(folder / path.name), read(path)), folder / path.name)
    return folder


def test_the_lab_ships_in_the_release_beside_its_data():
    assert LAB.is_file(), "the lab that notebook 4 sends students to is not in the release"
    assert (RELEASE / release.LAB_DATA / "sonnets.txt").read_text() == \
        (ROOT / "notebooks" / "data" / "sonnets.txt").read_text()


def test_the_released_lab_is_ungraded_and_clean():
    nb = read(LAB)
    assert not any(nbgrader_meta(cell) for cell in nb.cells), "the lab is ungraded: no nbgrader cells"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in nb.cells if cell.cell_type == "code")
    assert "nbval" not in "\n".join(cell.source for cell in nb.cells).lower()
    assert release.LAB not in {p.name for p in notebooks(SOURCE)}, "the grader would take it for a graded notebook"


def test_the_released_lab_reads_the_students_own_notebooks():
    code = "\n".join(cell.source for cell in read(LAB).cells if cell.cell_type == "code")
    assert re.findall(r"^FOLDER = (.*)$", code, re.M) == ['"."']
    assert "../source" not in code, "the solutions are not the student's"


def test_the_texts_point_at_the_lab_where_it_is():
    lstm = "\n".join(c.source for c in read(RELEASE / "4_lstm.ipynb").cells if c.cell_type == "markdown")
    assert "notebooks/char_rnn_lab.ipynb" not in lstm and f"`{release.LAB}`" in lstm
    intro = read(LAB).cells[0].source
    assert "three graded notebooks" not in intro and "four graded notebooks" in intro
    assert "recites" not in "\n".join(c.source for c in read(LAB).cells if c.cell_type == "markdown")


def test_the_lab_trains_the_students_rnn_in_a_plain_folder(tmp_path):
    folder = student_folder(tmp_path)
    nb = run(folder)
    out = printed(nb)
    assert f"FOLDER: {folder.resolve()}\n" in out
    assert f"rnn_utils: {(folder / 'rnn_utils.py').resolve()}\n" in out
    assert out.count(" ok\n") == 5 and "WRONG" not in out, out
    assert "fell below half of a uniform guess's: True" in out


def test_the_lab_says_what_to_do_before_the_notebooks_are_answered(tmp_path):
    nb = run(student_folder(tmp_path, answered=False), allow_errors=True)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert errors, "an unanswered RNN cannot be trained"
    assert errors[0].ename.startswith("NotImplemented") and "not implemented yet" in errors[0].evalue
    assert "notebook" in errors[0].evalue, "say what to do"


@pytest.mark.parametrize("folder", ["notebooks", "release/rnn_step_by_step"])
def test_rnn_utils_imports_beside_the_lab(folder):
    """`import rnn_utils` works in a plain JupyterLab, which starts the kernel in the lab's folder
    (and nothing puts this repository on PYTHONPATH): rnn_utils and what it loads sit beside it."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", "import rnn_utils, os; print(os.path.realpath(rnn_utils.__file__))"],
                            cwd=ROOT / folder, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in (str(ROOT / "rnn_utils.py"), str(ROOT / folder / "rnn_utils.py"))
