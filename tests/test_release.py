"""release/ is what students get: fresh, free of solutions and hidden tests, runnable."""

import filecmp
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import reference, release
from tests.helpers import RELEASE, RNN, ROOT, SOURCE, assert_same_tree, nbgrader_meta, notebooks, read, region


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """A release regenerated from a copy of the repository's sources."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", root / "source", symlinks=True)
    shutil.copytree(ROOT / "images", root / "images")
    shutil.copy(ROOT / "rnn_utils.py", root / "rnn_utils.py")
    shutil.copy(ROOT / "rnn_relations.py", root / "rnn_relations.py")
    shutil.copy(ROOT / "rnn_checks.py", root / "rnn_checks.py")
    shutil.copytree(ROOT / "notebooks", root / "notebooks", symlinks=True)  # the lab
    release.generate(root)
    return root


@pytest.mark.parametrize("assignment", reference.assignments())
def test_release_is_fresh(regenerated, assignment):
    """`make release` would change nothing: commit its output after editing source/."""
    assert_same_tree(ROOT / "release" / assignment, regenerated / "release" / assignment, "make release")
    expected = "visible_expected.json"
    assert filecmp.cmp(ROOT / "source" / assignment / expected, regenerated / "source" / assignment / expected,
                       shallow=False)


def test_grading_declarations_are_never_released(regenerated):
    """grading.py (hidden cases, mistakes made from the reference) stays with the grader."""
    assert (regenerated / "source" / "rnn_step_by_step" / "grading.py").is_file()
    assert not list((regenerated / "release").rglob("grading.py"))


def test_release_ships_only_what_students_need():
    files = {str(p.relative_to(RELEASE)) for p in RELEASE.rglob("*") if p.is_file()}
    assert files == {"1_rnn_cell_forward.ipynb", "2_rnn_forward.ipynb", "3_rnn_backward.ipynb", "4_lstm.ipynb",
                     "rnn_utils.py", "rnn_checks.py", "rnn_relations.py", "exercises.py", "visible_expected.json", release.LAB, f"{release.LAB_DATA}/sonnets.txt"} | {
        f"images/{p.name}" for p in (ROOT / "images").glob("*.png")}


# The graded notebooks (the lab beside them is ungraded: tests/test_lab.py).
GRADED = [p for p in notebooks(RELEASE) if p.name != release.LAB]

REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))


def secret_lines():
    """Lines that the source notebooks show only inside a solution or hidden-test region
    (a line also shown openly, such as the cache layout the text gives, is no secret)."""
    lines, public = set(), []
    for path in notebooks(SOURCE):
        for cell in read(path).cells:
            secret = set()
            for begin, end in REGIONS:
                secret |= {line.strip() for line in region(cell.source, begin, end)}
            lines |= secret
            public += [line for line in cell.source.splitlines() if line.strip() not in secret]
    public = "\n".join(public)
    return {line for line in lines if len(line) > 12 and not line.startswith("#") and line not in public}


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.name)
def test_release_notebook_leaks_nothing(path):
    nb = read(path)
    text = path.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "autograder", "probe("):
        assert marker not in text, marker
    code = "\n".join(cell.source for cell in nb.cells)
    leaked = [line for line in secret_lines() if line in code]
    assert not leaked, leaked
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "release notebooks carry no outputs"
    answers = [cell for cell in nb.cells if nbgrader_meta(cell).get("solution")]
    assert answers and all("raise NotImplementedError()" in cell.source for cell in answers)


def test_release_gives_no_reference_value():
    """visible_expected.json holds outputs on the visible examples only (the reference's and
    the known mistakes'): the hidden outputs (other seeds and shapes) are computed while
    grading and stored nowhere."""
    import json
    data = json.loads((RELEASE / "visible_expected.json").read_text())
    parts = set(RNN.functions)
    assert set(data) == parts | {"input_mutated"}
    examples = set(RNN.checks.EXAMPLES)
    for part in parts:
        assert set(data[part]["reference"]) == examples
        assert all(set(mistake["outputs"]) == examples for mistake in data[part]["mistakes"])
    a = data["rnn_forward"]["reference"]["the example"]["a"]
    assert len(a) == 5 and len(a[0]) == 10  # n_a = 5, m = 10: the printed example


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student") / "rnn_step_by_step"
    shutil.copytree(RELEASE, folder)
    return folder


@pytest.mark.parametrize("name", [p.name for p in GRADED])
def test_release_runs_up_to_the_first_unanswered_exercise(student_copy, name):
    """A student runs every cell: all run until the first test of an unanswered exercise,
    which stops on the stub with a message saying what to do."""
    nb = read(student_copy / name)
    NotebookClient(nb, timeout=60, allow_errors=True, resources={"metadata": {"path": str(student_copy)}}).execute()
    failed = [cell for cell in nb.cells
              if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs)]
    assert failed, "the unanswered release must fail its tests"
    assert any(nbgrader_meta(cell).get("grade") for cell in failed)
    for cell in failed:  # test cells, and the gradient checks students run before them
        assert nbgrader_meta(cell).get("grade") or "gradient_check(" in cell.source, \
            f"only test cells and gradient checks may fail, not {nbgrader_meta(cell).get('grade_id')}"
        error = next(o for o in cell.outputs if o.output_type == "error")
        assert error.ename == "NotImplementedError" and "not implemented yet" in error.evalue


@pytest.mark.parametrize("name", [p.name for p in GRADED])
def test_nbgrader_validate_invert_passes(student_copy, name):
    """nbgrader's own check: every test of the unanswered release fails."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "--invert", str(student_copy / name)],
                            capture_output=True, text=True, timeout=300, cwd=student_copy)
    assert result.returncode == 0, result.stderr
    assert "Success! The notebook does not pass any tests." in result.stdout, result.stdout + result.stderr
