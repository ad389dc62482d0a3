"""What the feedback folder holds besides nbgrader's pages.

- MathJax, once, in feedback/mathjax: the copy that the maintained `jupyter-server-mathjax` package
  ships (MathJax 2.7, the version nbgrader's template configures), found by every page at
  ../../mathjax (HTMLExporter.mathjax_url, autograder/course.py): the formulas render with no
  network.
- A stand-in for each notebook that could not be graded (not submitted, not a notebook, nbgrader
  failed it): a notebook in autograded/ that says why, so that nbgrader's own generate_feedback,
  in the worker or run by hand in OUT/course, gives every notebook of every student a page.
"""

import filecmp
import logging
import shutil
from pathlib import Path

import nbformat

from ..course import MATHJAX_FOLDER, assignment_in, nbgrader_config


def mathjax_source():
    import jupyter_server_mathjax
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def place_mathjax(feedback_folder):
    """feedback_folder/mathjax, copied from the package unless it is there already (the same
    MathJax.js); a real folder of our own, never a link (OUT can be zipped or moved)."""
    source, target = mathjax_source(), Path(feedback_folder) / MATHJAX_FOLDER
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    if (target / "MathJax.js").is_file() and not (target / "MathJax.js").is_symlink() and \
            filecmp.cmp(source / "MathJax.js", target / "MathJax.js", shallow=False):
        return target
    shutil.rmtree(target, ignore_errors=True)
    partial = target.with_name(MATHJAX_FOLDER + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    partial.rename(target)
    return target


STANDIN_TEXT = ("**This notebook could not be graded.** The reason is at the top of this page. Each of its tests "
                "scores 0: fix the notebook (open it in JupyterLab, save it) and hand it in again.")


def standin(problem):
    """The text of a stand-in autograded notebook for one that could not be graded: no cell of the
    assignment (its tests score 0 in the gradebook), the reason in its metadata (the feedback
    summary shows it, escaped: it can quote the student's file)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(STANDIN_TEXT)])
    notebook.metadata["autograder"] = {"problem": str(problem)[:2000]}
    return nbformat.writes(notebook)


def generate(course, db_url, student):
    """nbgrader's generate_feedback for one student of the class course (as run by hand there);
    returns nbgrader's result dict (success, log, error)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from ..preprocessors import one_engine_per_gradebook
    one_engine_per_gradebook()
    config = nbgrader_config(course, db_url)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.WARNING)
    return api.generate_feedback(assignment_in(Path(course) / "source"), student, force=True)
