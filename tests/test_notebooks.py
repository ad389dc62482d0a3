"""The source notebooks' structure: grade ids, hidden tests, expected outputs, figures."""

import subprocess
import sys

import pytest

from autograder import reference
from tests.helpers import ROOT, image_paths, nbgrader_meta, notebooks, read

# Every assignment's source notebooks (each with the assignment it belongs to).
SOURCES = [path for name in reference.assignments() for path in notebooks(ROOT / "source" / name)]
ALL_NOTEBOOKS = SOURCES + [path for name in reference.assignments() for path in notebooks(ROOT / "release" / name)] \
    + notebooks(ROOT / "notebooks")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_exercise_has_a_shape_and_a_value_test_named_after_it(path):
    cells = read(path).cells
    answers = [nbgrader_meta(c)["grade_id"] for c in cells if nbgrader_meta(c).get("solution")]
    tests = [nbgrader_meta(c)["grade_id"] for c in cells if nbgrader_meta(c).get("grade")]
    assert answers and set(answers) <= set(reference.of(path.parent).exercises)
    assert tests == [f"{a}_{kind}" for a in answers for kind in ("shapes", "values")]
    ids = [nbgrader_meta(c).get("grade_id") for c in cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "duplicate grade_id"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_test_cell_runs_its_hidden_check_first(path):
    for cell in read(path).cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            assert meta["points"] > 0
            call = f'from autograder.probe import probe; probe("{meta["grade_id"]}", globals())'
            lines = cell.source.splitlines()
            hidden_at = next(i for i, line in enumerate(lines) if call in line)
            visible_at = next(i for i, line in enumerate(lines) if line.startswith("rnn_utils.check_"))
            assert "BEGIN HIDDEN TESTS" in lines[hidden_at - 1] and hidden_at < visible_at


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_expected_output_matches_what_the_test_prints(path):
    """The 'Expected output' under each test shows exactly what the reference prints
    (nbval in turn checks the stored outputs against a fresh run)."""
    cells = read(path).cells
    checked = 0
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "markdown" and cell.source.startswith("**Expected output**"):
            printed = "".join(o.text for o in before.outputs if o.output_type == "stream" and o.name == "stdout")
            assert cell.source == "**Expected output**\n\n```\n" + printed.rstrip("\n") + "\n```"
            checked += 1
    assert checked == sum(1 for c in cells if nbgrader_meta(c).get("grade"))


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_image_shown_exists(path):
    for cell in read(path).cells:
        if cell.cell_type == "markdown":
            for src in image_paths(cell.source):
                assert (path.parent / src).is_file(), f"{path.name} shows {src}, which does not exist"


def test_every_figure_is_shown_somewhere():
    shown = {src.split("/")[-1] for p in SOURCES for c in read(p).cells
             if c.cell_type == "markdown" for src in image_paths(c.source)}
    assert shown == {p.name for p in (ROOT / "images").glob("*.png")}


def test_figures_are_fresh(tmp_path):
    """images/*.png are exactly what images/make_figures.py draws (`make figures`)."""
    subprocess.run([sys.executable, str(ROOT / "images" / "make_figures.py"), str(tmp_path)], check=True)
    drawn = sorted(p.name for p in tmp_path.glob("*.png"))
    assert drawn == sorted(p.name for p in (ROOT / "images").glob("*.png"))
    stale = [name for name in drawn if (tmp_path / name).read_bytes() != (ROOT / "images" / name).read_bytes()]
    assert not stale, f"images/ is stale, run `make figures`: {stale}"
