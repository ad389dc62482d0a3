"""The feedback a student opens (issue 21), graded from a small class: the complete answer, a named
mistake (tanh applied twice), invalid JSON, a missing notebook, and an edited test cell.

- every notebook of every student has a page; one that could not be graded says why;
- a failed test reads: verdict, then the hint naming the mistake, then what the visible tests printed;
  a summary at the top gives each notebook's score and links to the failed tests' cells;
- MathJax is placed once, in the feedback folder, and every page loads it from there (no CDN);
- one feedback folder: after a grade is changed in the gradebook (what formgrader does) and
  `nbgrader generate_feedback` runs in OUT/course, OUT/feedback shows the new score;
- a student's log holds no checksum warning for a test cell the student did not touch, and no
  progress lines; an edited test cell is still reported.

The rendered page (offline MathJax, figures, no sideways scrolling) is checked in a real browser by
tests/browser/test_feedback_view.py.
"""

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import hidden, submit
from autograder.course import COURSE_ID
from tests.helpers import ASSIGNMENT, RNN, ROOT, SOURCE, grade, read

STUDENTS = ["s01_complete", "s03_tanh_twice", "s09_invalid_json", "s10_missing_notebook"]
NOTEBOOKS = sorted(p.stem for p in SOURCE.glob("*.ipynb"))
TEST_CELLS = [c.metadata["nbgrader"]["grade_id"] for nb in sorted(SOURCE.glob("*.ipynb")) for c in read(nb).cells
              if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    base = tmp_path_factory.mktemp("feedback")
    submissions = base / "class"
    for student in STUDENTS:
        shutil.copytree(ROOT / "tests" / "fixtures" / "class" / student, submissions / student)
    shutil.copytree(ROOT / "tests" / "fixtures" / "hostile" / "h05_edited_test_cell",
                    submissions / "h05_edited_test_cell")
    run = grade(submissions, base / "out", "--workers", "2")
    assert run.returncode == 0, run.stderr
    return base / "out"


def page(out, student, notebook):
    return (out / "feedback" / student / ASSIGNMENT / f"{notebook}.html").read_text()


def test_every_notebook_of_every_student_has_a_page_and_an_ungraded_one_says_why(out):
    for student in STUDENTS:
        assert sorted(p.stem for p in (out / "feedback" / student / ASSIGNMENT).glob("*.html")) == NOTEBOOKS, student
    invalid = html.unescape(page(out, "s09_invalid_json", RNN.grading.NB2))
    assert "This notebook could not be graded:" in invalid
    assert "2_rnn_forward.ipynb is not a valid notebook (Notebook does not appear to be JSON" in invalid
    missing = html.unescape(page(out, "s10_missing_notebook", RNN.grading.NB3))
    assert "3_rnn_backward.ipynb was not submitted" in missing
    # its failed tests are listed, linking to the summary (the stand-in page has no cell of theirs)
    assert '<a href="#autograder-summary">3_rnn_backward: rnn_cell_backward_values</a>' in missing


def test_a_failed_test_reads_verdict_then_hint_then_what_the_visible_tests_printed(out):
    text = page(out, "s03_tanh_twice", RNN.grading.NB3)
    cell = text[text.index('name="rnn_cell_backward_values"'):]
    cell = cell[:cell.index('<a name="rnn_backward_shapes"')]
    verdict = cell.index("rnn_cell_backward: wrong values in dxt for a hidden input")
    hint = cell.index('class="autograder-hint">Known mistake: tanh applied twice.')
    printed = cell.index("gradients[&quot;dxt&quot;][1][2] =") if "&quot;" in cell else cell.index('gradients["dxt"][1][2] =')
    assert verdict < hint < printed
    assert "Known mistake" not in cell[verdict:hint], "the hint is out of the verdict's line"
    assert "Traceback" not in cell and "probe(" not in cell


def test_the_summary_gives_each_notebooks_score_and_links_to_the_failed_tests(out):
    text = page(out, "s03_tanh_twice", RNN.grading.NB1)
    summary = text[text.index('id="autograder-summary"'):]
    summary = summary[:summary.index("</div>\n</div>")]
    scores = re.findall(r'<a href="([^"]*)">(\w+)</a></td>\s*<td>([\d.]+) / ([\d.]+)</td>', summary)
    assert [(href, name, got, of) for href, name, got, of in scores] == [
        ("#top", "1_rnn_cell_forward", "3", "3"), ("2_rnn_forward.html", "2_rnn_forward", "3", "3"),
        ("3_rnn_backward.html", "3_rnn_backward", "4", "6"), ("4_lstm.html", "4_lstm", "12", "12")]
    assert '<a href="3_rnn_backward.html#rnn_cell_backward_values">' in summary
    here = page(out, "s03_tanh_twice", RNN.grading.NB3)
    assert re.search(r'<a href="#rnn_cell_backward_values">[^<]*</a>[^<]*known mistake: <em>tanh applied twice</em>',
                     here)
    assert 'name="rnn_cell_backward_values"' in here  # the link's target, nbgrader's anchor
    assert "Every test passed." in page(out, "s01_complete", RNN.grading.NB1)


def test_mathjax_is_placed_once_and_every_page_loads_it_from_there(out):
    feedback = out / "feedback"
    assert (feedback / "mathjax" / "MathJax.js").is_file() and not (feedback / "mathjax").is_symlink()
    assert [p for p in feedback.rglob("MathJax.js")] == [feedback / "mathjax" / "MathJax.js"]
    for html_file in feedback.glob(f"*/{ASSIGNMENT}/*.html"):
        text = html_file.read_text()
        assert "cdnjs" not in text and not re.search(r"""<(script|link)[^>]*(src|href)=["']?(https?:)?//""", text), \
            html_file
        assert '<script src="../../mathjax/MathJax.js?config=' in text, html_file
    assert (feedback / "s03_tanh_twice" / ASSIGNMENT / "images" / "lstm_cell.png").is_file()


def test_a_grade_changed_in_formgrader_reaches_the_feedback_after_generate_feedback(out, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    assert (copy / "feedback").resolve() == (copy / "course" / "feedback").resolve()
    with Gradebook(f"sqlite:///{copy / 'course' / 'gradebook.db'}", COURSE_ID) as gb:  # formgrader's override
        gb.find_grade("rnn_cell_backward_values", RNN.grading.NB3, ASSIGNMENT, "s03_tanh_twice").manual_score = 1.5
        gb.db.commit()
    run = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--student",
                          "s03_tanh_twice", "--force"], cwd=copy / "course", capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep
                                           + os.environ["PATH"]})
    assert run.returncode == 0, run.stderr[-3000:]
    text = page(copy, "s03_tanh_twice", RNN.grading.NB3)
    assert "3_rnn_backward (Score: 5.5 / 6.0)" in text  # nbgrader's heading
    assert re.search(r'3_rnn_backward</a></td>\s*<td>5.5 / 6</td>', text)  # our summary
    assert '<a href="#rnn_cell_backward_values">' in text and "(1.5 / 2)" in text
    # the page nbgrader made is ours: same template, same MathJax, the hint still there
    assert 'class="autograder-hint">Known mistake: tanh applied twice.' in text
    assert '<script src="../../mathjax/MathJax.js?config=' in text
    # the ungradable notebook's page comes back from nbgrader too, its reason shown as text, never as
    # markup (it quotes the student's file)
    standin = copy / "course" / "autograded" / "s09_invalid_json" / ASSIGNMENT / f"{RNN.grading.NB2}.ipynb"
    notebook = read(standin)
    notebook.metadata["autograder"]["problem"] += " <script>alert(1)</script>"
    standin.chmod(0o644)
    standin.write_text(nbformat.writes(notebook))
    again = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--student",
                            "s09_invalid_json", "--force"], cwd=copy / "course", capture_output=True, text=True,
                           timeout=300, env={**os.environ, "PATH": os.path.dirname(sys.executable)
                                             + os.pathsep + os.environ["PATH"]})
    assert again.returncode == 0, again.stderr[-3000:]
    shown = page(copy, "s09_invalid_json", RNN.grading.NB2)
    assert "This notebook could not be graded:" in shown and "is not a valid notebook" in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script>alert" not in shown


def test_logs_hold_what_an_instructor_should_read(out):
    untouched = (out / "logs" / "s01_complete.log").read_text()
    assert not [cell for cell in TEST_CELLS if f"Attribute 'checksum' for cell {cell} has changed" in untouched]
    assert "[INFO]" not in untouched and "Writing " not in untouched
    assert str(out / ".work") not in (out / "logs" / "s09_invalid_json.log").read_text()
    edited = (out / "logs" / "h05_edited_test_cell.log").read_text()
    assert "Attribute 'checksum' for cell rnn_forward_values has changed" in edited


def test_a_grading_that_crashed_still_gives_every_notebook_a_page(out, tmp_path):
    """What the coordinator does with a worker that died on a submission: the gradebook gets zeros and
    the student a page per notebook saying so (made by nbgrader's generate_feedback from stand-ins)."""
    from autograder import collect
    from autograder.grade import _crashed, _save, gradebook
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    db_url = f"sqlite:///{copy / 'course' / 'gradebook.db'}"
    submission = collect.Submission("s99_crashed", {f"{name}.ipynb": b"{}" for name in NOTEBOOKS})
    result = _crashed(submission, ASSIGNMENT)
    gradebook.record(db_url, result)
    _save(copy, copy / "course", submission, result, "key", db_url)
    folder = copy / "feedback" / "s99_crashed" / ASSIGNMENT
    assert sorted(p.stem for p in folder.glob("*.html")) == NOTEBOOKS
    for name in NOTEBOOKS:
        text = html.unescape((folder / f"{name}.html").read_text())
        words = " ".join(re.sub(r"<[^>]+>", " ", text).split())
        assert "This notebook could not be graded: the grading process crashed on this submission." in words, name
        assert re.search(rf"{name}</a></td>\s*<td>0 / \d+</td>", text)
    assert (folder / "images").is_dir() and (folder / "timestamp.txt").is_file()


def test_a_students_pages_are_written_by_one_grader_at_a_time(out, tmp_path):
    """`autograder feedback OUT` beside a service (or another grader) writing the same student's
    files: nbgrader's generate_feedback starts by removing the student's feedback folder, so two at
    once failed one time in eight and could leave the student without pages. Each waits for the
    other: while the test holds the student's files as a grader writing them would, `feedback` makes
    everyone else's pages, and the student's once they are let go; so does the service's step that
    makes owed pages."""
    import threading
    from autograder.grade import make_owed_pages, student_files_locked
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    waiting, other = copy / "feedback" / "s01_complete" / ASSIGNMENT, copy / "feedback" / "s03_tanh_twice" / ASSIGNMENT
    for html_file in [*waiting.glob("*.html"), *other.glob("*.html")]:
        html_file.unlink()
    with student_files_locked(copy, "s01_complete"):
        made = subprocess.Popen([sys.executable, "-m", "autograder", "feedback", str(copy), "--workers", "2"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while len(list(other.glob("*.html"))) < len(NOTEBOOKS) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sorted(p.stem for p in other.glob("*.html")) == NOTEBOOKS
            time.sleep(0.5)
            assert made.poll() is None and not list(waiting.glob("*.html"))
        except BaseException:
            made.kill()
            raise
    stdout, stderr = made.communicate(timeout=120)
    assert made.returncode == 0 and "of 5 students" in stdout, stderr
    assert sorted(p.stem for p in waiting.glob("*.html")) == NOTEBOOKS

    state = copy / ".state" / "s01_complete.json"
    state.write_text(json.dumps(dict(json.loads(state.read_text()), pages_owed=True)))
    db_url = f"sqlite:///{copy / 'course' / 'gradebook.db'}"
    owed = threading.Thread(target=make_owed_pages, args=(copy, copy / "course", db_url, "s01_complete"))
    with student_files_locked(copy, "s01_complete"):
        owed.start()
        time.sleep(1)
        assert owed.is_alive() and json.loads(state.read_text())["pages_owed"]
    owed.join(120)
    assert not owed.is_alive() and "pages_owed" not in json.loads(state.read_text())


def test_feedback_later_grades_the_same_and_makes_the_same_pages_when_asked(tmp_path):
    """`grade --feedback later` (issue 19: a third of a notebook's grading is its page) records the
    same grades and writes no page; `autograder feedback OUT` then makes every page, with the text
    the pages made while grading have."""
    import re
    submissions = tmp_path / "class"
    for student in ("s01_complete", "s03_tanh_twice", "s09_invalid_json", "s10_missing_notebook"):
        shutil.copytree(ROOT / "tests" / "fixtures" / "class" / student, submissions / student)
    now, later = tmp_path / "now", tmp_path / "later"
    assert grade(submissions, now, "--workers", "2").returncode == 0
    # The same course key, so the same hidden inputs (each OUT otherwise makes its own).
    (later / "course").mkdir(parents=True)
    shutil.copy(now / "course" / hidden.KEY, later / "course" / hidden.KEY)
    run = grade(submissions, later, "--workers", "2", "--feedback", "later")
    assert run.returncode == 0, run.stderr
    assert (later / "grades.csv").read_text() == (now / "grades.csv").read_text()
    assert not list((later / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    # A service killed between a student's score and pages left the state owing them: the pages
    # made here pay the debt, and the next run serves the student from the cache again. So they do
    # while a service runs on OUT: they are made from the notebooks the state was saved with, under
    # the student's lock (see test_a_students_pages_are_written_by_one_grader_at_a_time).
    state = later / ".state" / "s01_complete.json"
    state.write_text(json.dumps(dict(json.loads(state.read_text()), pages_owed=True)))
    service = submit.locked(later)
    try:
        made = subprocess.run([sys.executable, "-m", "autograder", "feedback", str(later)], capture_output=True,
                              text=True, cwd=ROOT, timeout=300)
    finally:
        os.close(service)
    assert made.returncode == 0 and "of 4 students" in made.stdout, made.stderr
    assert "pages_owed" not in json.loads(state.read_text())

    def text(path):
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", path.read_text())))
    pages = sorted((now / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages) == 16
    for page in pages:
        assert text(page) == text(later / page.relative_to(now)), page
        # A traceback names the working folder where the sandbox has it, never the grader's folders.
        assert str(tmp_path) not in page.read_text(), page
    assert any(f"/home/student/{ASSIGNMENT}/" in text(page) for page in pages)
    nothing = subprocess.run([sys.executable, "-m", "autograder", "feedback", str(tmp_path)], capture_output=True,
                             text=True, cwd=ROOT, timeout=300)
    assert nothing.returncode == 2 and "holds no graded class" in nothing.stderr


def test_pages_are_nbconverts_own_without_its_second_parse(out, tmp_path):
    """The feedback exporter (FeedbackPage, issue 19: compiled templates kept, no BeautifulSoup
    re-parse) writes the page nbconvert's HTMLExporter writes: the same once parsed as nbconvert
    parses it, figures and images without alt text given nbconvert's."""
    from bs4 import BeautifulSoup
    from nbconvert.exporters import HTMLExporter
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.course import nbgrader_config
    from autograder.preprocessors import FeedbackPage
    course = tmp_path / "course"
    shutil.copytree(out / "course", course, symlinks=True)
    notebook = course / "autograded" / "s01_complete" / ASSIGNMENT / f"{NOTEBOOKS[0]}.ipynb"
    nb = read(notebook)
    dot = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    nb.cells.append(nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": dot, "text/plain": "<Figure>"})]))
    nb.cells.append(nbformat.v4.new_markdown_cell(f'![a dot](data:image/png;base64,{dot}) <img src="dot.png"/> '
                                                  f'<IMG SRC="dot.png" title="x">'))
    notebook.unlink()
    nbformat.write(nb, notebook)
    pages = {}
    for exporter in (HTMLExporter, FeedbackPage):
        config = nbgrader_config(course, f"sqlite:///{course / 'gradebook.db'}")
        config.GenerateFeedback.exporter_class = exporter
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        assert api.generate_feedback(ASSIGNMENT, "s01_complete", force=True)["success"]
        folder = course / "feedback" / "s01_complete" / ASSIGNMENT
        pages[exporter] = {p.name: p.read_text() for p in folder.glob("*.html")}
        shutil.rmtree(folder)
    assert sorted(pages[FeedbackPage]) == sorted(pages[HTMLExporter]) == [f"{n}.html" for n in NOTEBOOKS]
    for name, theirs in pages[HTMLExporter].items():
        assert str(BeautifulSoup(pages[FeedbackPage][name], features="html.parser")) == theirs, name
    first = pages[FeedbackPage][f"{NOTEBOOKS[0]}.html"]
    assert first.count('alt="No description has been provided for this image"') == 3
    assert 'alt="a dot"' in first
