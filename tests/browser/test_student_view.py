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

from tests.browser.jupyterlab import (CHROMIUM, CHROMIUM_FLAGS, PANEL, Notebook, copy_release, jupyterlab,
                                      unavailable)
from autograder import reference, sample
from tests.helpers import RELEASE, RNN, ROOT, image_paths, notebooks, read

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


@pytest.mark.parametrize("assignment, name", [(a, p.name) for a in reference.assignments()
                                               for p in notebooks(ROOT / "release" / a)])
def test_notebook_runs_to_the_first_unanswered_exercise(lab, assignment, name):
    url, root, page = lab
    release = ROOT / "release" / assignment
    folder = f"run_{assignment}_{name[0]}"
    copy_release(release, root / folder)
    for earlier in {a.name for a in reference.named(assignment).earlier.values()} - {p.name for p in root.iterdir()}:
        copy_release(ROOT / "release" / earlier, root / earlier)  # the folder beside, as the student has it
    notebook = Notebook(page, url, f"{folder}/{name}")
    notebook.run_all()
    errors = notebook.errors()
    assert errors, "an unanswered notebook must stop at its first exercise"
    assert "NotImplementedError" in errors[0] and "not implemented yet" in errors[0], errors[0]
    shown = notebook.images()
    expected = [src for cell in read(release / name).cells if cell.cell_type == "markdown"
                for src in image_paths(cell.source)]
    # JupyterLab rewrites a relative src to the server's files URL: /files/<folder>/<src>?...
    assert [src.split("?")[0].split(f"/files/{folder}/")[-1] for src, _ in shown] == expected
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

    notebook.replace_cell("raise NotImplementedError()", RNN.sources(["rnn_cell_forward"])["rnn_cell_forward"])
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


def test_a_student_of_the_second_assignment_reads_the_mistake_then_fixes_it(lab):
    """char_language_model's notebook 1: the loss summed over the batch is named on screen; the
    right answer passes, and nbgrader's Validate agrees."""
    url, root, page = lab
    lm = reference.named("char_language_model")
    copy_release(ROOT / "release" / lm.name, root / "lm")
    notebook = Notebook(page, url, "lm/1_loss_and_clipping.ipynb")
    answer = lm.sources(["temporal_softmax_loss"])["temporal_softmax_loss"]
    summed = answer.replace("log_probs) / m", "log_probs)").replace("* mask / m", "* mask")
    assert summed != answer
    notebook.replace_cell("raise NotImplementedError()", summed)
    notebook.save()
    notebook.restart_and_run_all()
    mistake = page.locator(f"{PANEL} .jp-OutputArea-output", has_text="Known mistake: the loss summed over the batch")
    mistake.first.scroll_into_view_if_needed()
    assert mistake.count() >= 1
    notebook.screenshot(SCREENSHOTS / "char_language_model_mistake.png")
    notebook.replace_cell(summed.splitlines()[0], answer)
    notebook.replace_cell("raise NotImplementedError()", lm.sources(["clip_gradients"])["clip_gradients"])
    notebook.save()
    notebook.restart_and_run_all()
    assert notebook.errors() == []
    assert "Success" in notebook.validate()


def test_a_student_trains_with_the_rnn_of_their_first_assignment(lab):
    """char_language_model's notebook 3 loads the student's own rnn_forward and rnn_backward from
    their folder of the first assignment, beside this one. A step that skips the clipping is named
    on screen; the right answers pass, and nbgrader's Validate agrees."""
    url, root, page = lab
    lm = reference.named("char_language_model")
    course = root / "course"
    for a in (RNN, lm):  # the student's two folders, the first one answered, notebook 1 of the second
        copy_release(ROOT / "release" / a.name, course / a.name)
    answered = {**sample.student_notebooks(RNN, "complete"),
                "1_loss_and_clipping": sample.student_notebooks(lm, "complete")["1_loss_and_clipping"]}
    for name, data in answered.items():
        folder = course / (lm.name if name == "1_loss_and_clipping" else RNN.name)
        (folder / f"{name}.ipynb").write_bytes(data)
    notebook = Notebook(page, url, f"course/{lm.name}/3_training.ipynb")
    step = lm.sources(["rnn_train_step"])["rnn_train_step"]
    unclipped = step.replace("clipped = clip_gradients(gradients, max_norm)", "clipped = gradients")
    assert unclipped != step
    notebook.replace_cell("raise NotImplementedError()", unclipped)
    notebook.save()
    notebook.restart_and_run_all()
    printed = "\n".join(notebook.outputs())
    assert "rnn_forward: from 2_rnn_forward.ipynb" in printed and "rnn_backward: from 3_rnn_backward.ipynb" in printed
    mistake = page.locator(f"{PANEL} .jp-OutputArea-output", has_text="Known mistake: the gradients not clipped")
    mistake.first.scroll_into_view_if_needed()
    assert mistake.count() >= 1
    notebook.screenshot(SCREENSHOTS / "char_language_model_training_mistake.png")
    notebook.replace_cell("clipped = gradients", step)
    notebook.replace_cell("raise NotImplementedError()", lm.sources(["train_char_model"])["train_char_model"])
    notebook.save()
    notebook.restart_and_run_all()
    assert notebook.errors() == []
    printed = "\n".join(notebook.outputs())
    assert printed.count("All value tests passed.") == 2, printed
    assert "Success" in notebook.validate()
