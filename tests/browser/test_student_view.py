"""The release as a student meets it: JupyterLab in a real (headless) browser.

Each release notebook opens, runs all its cells, shows its figures, and stops at the
first unanswered exercise with the stub's message. A student then types the answer of
notebook 1 into its editor, re-runs it and sees the visible tests pass; nbgrader's
Validate button fails the notebook before the answer and passes it after. Screenshots
go to build/browser/ (the README shows one).

Skipped, with the reason, where there is no Chromium: `make browser` installs Debian's.
"""

import re

import pytest

from autograder import reference
from tests.browser.jupyterlab import (CHROMIUM, CHROMIUM_FLAGS, PANEL, Notebook, copy_release, jupyterlab,
                                      unavailable)
from tests.helpers import RELEASE, ROOT, notebooks, read, image_paths

REASON = unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")
SCREENSHOTS = ROOT / "build" / "browser"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, folder it serves, a Chromium page)."""
    from playwright.sync_api import sync_playwright
    root = tmp_path_factory.mktemp("student")
    home = tmp_path_factory.mktemp("home")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab(root, home) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield url, root, page
        browser.close()


@pytest.mark.parametrize("name", [p.name for p in notebooks(RELEASE)])
def test_notebook_runs_to_the_first_unanswered_exercise(lab, name):
    url, root, page = lab
    copy_release(RELEASE, root / f"run_{name[0]}")
    notebook = Notebook(page, url, f"run_{name[0]}/{name}")
    notebook.run_all()
    errors = notebook.errors()
    assert errors, "an unanswered notebook must stop at its first exercise"
    assert "NotImplementedError" in errors[0] and "not implemented yet" in errors[0], errors[0]
    shown = notebook.images()
    expected = [src for cell in read(RELEASE / name).cells if cell.cell_type == "markdown"
                for src in image_paths(cell.source)]
    # JupyterLab rewrites a relative src to the server's files URL: /files/<folder>/<src>?...
    assert [src.split("?")[0].split(f"/files/run_{name[0]}/")[-1] for src, _ in shown] == expected
    assert all(width > 0 for _, width in shown), f"figures that did not load: {shown}"
    page.locator(f"{PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").first \
        .scroll_into_view_if_needed()
    notebook.screenshot(SCREENSHOTS / f"{name[:-6]}_unanswered.png")


def test_a_student_answers_notebook_1_and_validate_agrees(lab):
    url, root, page = lab
    copy_release(RELEASE, root / "answer")
    notebook = Notebook(page, url, "answer/1_rnn_cell_forward.ipynb")
    before = notebook.validate()
    assert re.search(r"failed|error", before, re.I) and "Success" not in before, before

    notebook.replace_cell("raise NotImplementedError()", reference.sources(["rnn_cell_forward"])["rnn_cell_forward"])
    notebook.save()
    notebook.restart_and_run_all()
    assert notebook.errors() == []
    printed = "\n".join(notebook.outputs())
    assert "All shape tests passed." in printed and "All value tests passed." in printed
    after = notebook.validate()
    assert "Success" in after, after
    page.locator(f"{PANEL} .jp-OutputArea-output", has_text="All value tests passed.").first \
        .scroll_into_view_if_needed()
    notebook.screenshot(SCREENSHOTS / "1_rnn_cell_forward_answered.png")
