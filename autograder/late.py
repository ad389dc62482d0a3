"""Late policy: nbgrader's late-submission plugins, configured.

nbgrader computes lateness itself (SubmittedAssignment.total_seconds_late: the submission's
timestamp against the assignment's duedate plus the student's extension) and asks the plugin
of `AssignLatePenalties` for each notebook's penalty. Its own `LateSubmissionPlugin` knows
"none" and "zero"; a penalty per hour or day is the kind of plugin its documentation shows
(`SubMarks`), written here as a share of the notebook's score, so that the four notebooks'
penalties add up to that share of the assignment, whatever their points.
"""

import math
import re

from traitlets import Float
from traitlets.config import Config

from nbgrader.plugins import BasePlugin


class PenaltyPerPeriod(BasePlugin):
    """`percent` of the notebook's score per started `hours` late (capped at the score by
    AssignLatePenalties)."""

    percent = Float(10.0, help="share of the score taken per period late, in percent").tag(config=True)
    hours = Float(24.0, help="the period, in hours").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        periods = math.ceil(total_seconds_late / (3600 * self.hours))
        return min(score, score * self.percent / 100 * periods)


POLICY = re.compile(r"^(?:none|zero|(?P<percent>\d+(?:\.\d+)?)%/(?P<period>hour|day))$")


def parse(policy):
    """A late policy as the command line spells it (none, zero, 10%/day, 2%/hour), checked;
    ValueError with the forms accepted otherwise."""
    if not POLICY.match(policy or ""):
        raise ValueError(f"unknown late policy {policy!r}: give none, zero, or a share of the score per "
                         f"hour or day such as 10%/day or 2%/hour")
    return policy


def config(policy):
    """The nbgrader Config of a late policy (see parse)."""
    c = Config()
    found = POLICY.match(parse(policy))
    if found["percent"]:
        c.AssignLatePenalties.plugin_class = "autograder.late.PenaltyPerPeriod"
        c.PenaltyPerPeriod.percent = float(found["percent"])
        c.PenaltyPerPeriod.hours = 1.0 if found["period"] == "hour" else 24.0
    else:
        c.AssignLatePenalties.plugin_class = "nbgrader.plugins.LateSubmissionPlugin"
        c.LateSubmissionPlugin.penalty_method = policy
    return c
