"""The nbgrader course: where its folders are and how nbgrader is configured.

One configuration serves our commands and plain nbgrader alike: the repository's
`nbgrader_config.py` loads `nbgrader_config()` from here, so `nbgrader formgrader`
or `nbgrader export` run by hand see the same course.
"""

import os
import sys
from pathlib import Path

from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_step_by_step"
COURSE_ID = "rnn_step_by_step_course"

# A notebook may run this long in total before its cell is interrupted (seconds per cell).
CELL_TIMEOUT = 60

# nbgrader zeroes a test cell with any stderr output. Warnings are stderr but not
# failures: a passing test whose student code triggered a numpy RuntimeWarning
# (overflow in exp, say) keeps its points. Matches "<file>:<line>: SomethingWarning: ...".
WARNING_PATTERN = r"^(?:[^\n]*:\d+: \w*Warning: [^\n]*\n(?:  [^\n]*\n)*)+$"


def nbgrader_config(root=ROOT, db_url=None, timeout=CELL_TIMEOUT):
    """The nbgrader Config for the course rooted at `root`."""
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    if db_url:
        c.CourseDirectory.db_url = db_url
    c.Execute.timeout = timeout
    # Wall time for a whole notebook, and CPU time per cell (numpy may use both cores).
    c.ProbedExecute.notebook_timeout = 10 * timeout
    c.ProbedExecute.cell_cpu_seconds = 2 * timeout
    c.IgnorePattern.pattern = WARNING_PATTERN
    c.IgnorePattern.enabled = True
    # Configure nbgrader's pipelines with our fixes (autograder/preprocessors.py), not a fork:
    # - DeduplicateIds turns a duplicated cell into one its own schema check rejects;
    # - Execute lets student code decide verdicts; ProbedExecute decides hidden tests outside;
    # - feedback shows hidden test source and tracebacks; we show each test's verdict only.
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.preprocessors import ClearHiddenTests
    from .preprocessors import DropDuplicateIds, FeedbackOutputs, ProbedExecute
    replace = {"DeduplicateIds": DropDuplicateIds, "Execute": ProbedExecute}

    def configured(converter, trait):
        return [replace.get(p.__name__, p) for p in converter.class_traits()[trait].default()]
    c.Autograde.sanitize_preprocessors = configured(Autograde, "sanitize_preprocessors")
    c.Autograde.autograde_preprocessors = configured(Autograde, "autograde_preprocessors")
    feedback = configured(GenerateFeedback, "preprocessors")
    c.GenerateFeedback.preprocessors = feedback[:1] + [ClearHiddenTests, FeedbackOutputs] + feedback[1:]
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    return c


def prefer_this_environment():
    """Put this interpreter's bin/ first on PATH.

    nbgrader runs `alembic` from PATH to create a gradebook, and kernels may be
    started as `python`: both must come from the environment we run in (the
    project's .venv/) even when it is not activated.
    """
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
