"""Plain `nbgrader autograde` (stock configuration, whole class in one run) gives the scores
our grader gives, except where nbgrader is wrong."""

import os
import shutil
import subprocess
import sys

from nbgrader.api import Gradebook

ASSIGNMENT = "rnn_step_by_step"  # the first assignment
from tests.helpers import ROOT
from tests.test_grade_e2e import EXPECTED, FIXTURES, TIMEOUT


PLAIN_CONFIG = """c = get_config()
c.CourseDirectory.course_id = "plain"
c.Execute.timeout = {timeout}
"""


def test_plain_nbgrader_agrees_except_where_it_is_wrong(tmp_path):
    """nbgrader alone, stock configuration, whole class in one `nbgrader autograde`."""
    course = tmp_path / "plain"
    shutil.copytree(ROOT / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    shutil.copytree(FIXTURES, course / "submitted")
    (course / "nbgrader_config.py").write_text(PLAIN_CONFIG.format(timeout=TIMEOUT))
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(nbgrader + ["generate_assignment", ASSIGNMENT], cwd=course, env=env, check=True,
                   capture_output=True, timeout=120)
    plain = subprocess.run(nbgrader + ["autograde", ASSIGNMENT], cwd=course, env=env, capture_output=True,
                           text=True, timeout=900)
    assert plain.returncode != 0, "nbgrader reports the students it could not grade"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "plain") as gb:
        theirs = {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)
                  if (course / "autograded" / s.student.id / ASSIGNMENT).exists()}
    ours = dict(EXPECTED)  # what test_grade_e2e proves our grader gives
    # nbgrader fails a student with an unreadable notebook entirely (s09), and a duplicated cell
    # (its DeduplicateIds leaves metadata its own schema check rejects) aborts the whole batch
    # (nbgrader issue 1083): s13 and every student after it are never graded. We grade all of
    # them, scoring only the broken notebook 0.
    assert "use an old version" in plain.stdout + plain.stderr
    assert set(ours) - set(theirs) == {"s09_invalid_json", "s13_duplicated_answer_cell", "s14_infinite_loop",
                                       "s15_dead_kernel", "s16_lstm_dc_next_forgotten"}
    # nbgrader zeroes a passing test cell whose only stderr is a numpy RuntimeWarning: both
    # rnn_cell_forward test cells (1 + 2 points) print the student's overflow warning.
    assert theirs.pop("s08_numpy_warning") == ours.pop("s08_numpy_warning") - 3
    # nbgrader does not know "1_rnn_cell_forward (1).ipynb" (the browser's duplicate name) for
    # notebook 1 (3 points), and scores a deleted test cell 0 (2 points) where we put it back and run it.
    assert theirs.pop("s11_renamed_notebook") == ours.pop("s11_renamed_notebook") - 3
    assert theirs.pop("s12_deleted_test_cell") == ours.pop("s12_deleted_test_cell") - 2
    assert theirs == {s: v for s, v in ours.items() if s in theirs}
