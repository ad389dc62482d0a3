"""The nbgrader course: where its folders are and how nbgrader is configured.

One configuration serves our commands and plain nbgrader alike: the repository's
`nbgrader_config.py` loads `nbgrader_config()` from here, so `nbgrader formgrader`
or `nbgrader export` run by hand see the same course.
"""

import os
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
COURSE_ID = "rnn_step_by_step_course"

# A notebook may run this long in total before its cell is interrupted (seconds per cell).
CELL_TIMEOUT = 60

# nbgrader zeroes a test cell with any stderr output. Warnings are stderr but not
# failures: a passing test whose student code triggered a numpy RuntimeWarning
# (overflow in exp, say) keeps its points. Matches "<file>:<line>: SomethingWarning: ...".
WARNING_PATTERN = r"^(?:[^\n]*:\d+: \w*Warning: [^\n]*\n(?:  [^\n]*\n)*)+$"

# MathJax for the feedback pages, from a copy placed once in the feedback folder (feedback/mathjax,
# beside the students' folders: a page is feedback/<student>/<assignment>/<notebook>.html).
MATHJAX_FOLDER = "mathjax"
MATHJAX_URL = f"../../{MATHJAX_FOLDER}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def nbgrader_config(root=ROOT, db_url=None, timeout=CELL_TIMEOUT, late_policy="none"):
    """The nbgrader Config for the course rooted at `root`; `late_policy` as autograder.late parses it."""
    from . import late
    from traitlets.config import Config  # here: `python -m autograder submit` starts without traitlets
    c = Config()
    c.merge(late.config(late_policy))
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
    # - OverwriteCells scores a missing test cell 0; RestoreMissingCells puts it back and runs it;
    # - Execute lets student code decide verdicts; ProbedExecute decides hidden tests outside;
    # - feedback shows hidden test source and tracebacks; we show each test's verdict, its hint, what the
    #   visible tests printed, and a summary (FeedbackSummary, read by our template).
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import ClearHiddenTests
    from .preprocessors import (DropDuplicateIds, FeedbackOutputs, FeedbackPage, FeedbackSummary, ProbedExecute,
                                RestoreMissingCells, check_schemas_once)
    check_schemas_once()
    replace = {"DeduplicateIds": DropDuplicateIds, "Execute": ProbedExecute, "OverwriteCells": RestoreMissingCells}

    def configured(converter, trait):
        return [replace.get(p.__name__, p) for p in converter.class_traits()[trait].default()]
    c.Autograde.sanitize_preprocessors = configured(Autograde, "sanitize_preprocessors")
    c.Autograde.autograde_preprocessors = configured(Autograde, "autograde_preprocessors")
    feedback = configured(GenerateFeedback, "preprocessors")
    c.GenerateFeedback.preprocessors = feedback[:1] + [FeedbackSummary, FeedbackOutputs, ClearHiddenTests] + \
        feedback[1:]
    # The feedback page: nbgrader's template extended (a summary at the top, messages that wrap),
    # MathJax from the copy the grader places once in the feedback folder (nbconvert's option).
    import nbgrader
    # nbgrader's API (formgrader's button too) insists on the template "feedback": ours is found
    # under that name first, its file extends nbgrader's index.html.j2.
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.template_file = "rnn_feedback.html.j2"
    c.HTMLExporter.extra_template_basedirs = [
        str(Path(__file__).parent / "templates"),
        str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates")]
    c.HTMLExporter.mathjax_url = MATHJAX_URL
    c.GenerateFeedback.exporter_class = FeedbackPage  # nbconvert's HTMLExporter, the same pages made faster
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    # What only the grader may read (hidden cases, mistakes made from the reference) is never
    # released, nor copied beside a student's notebooks.
    from .reference import GRADING
    c.CourseDirectory.ignore = CourseDirectory.class_traits()["ignore"].default() + [GRADING]
    return c


def assignment_in(course_source):
    """The name of the one assignment in a grading course's source folder (OUT/course/source:
    each grading course holds the assignment it grades)."""
    found = [p.name for p in Path(course_source).iterdir() if p.is_dir() and any(p.glob("*.ipynb"))]
    if len(found) != 1:
        raise RuntimeError(f"{course_source} must hold one assignment's folder, not {len(found)}")
    return found[0]


def create_gradebook(db_url):
    """Make the gradebook at `db_url` if it has no tables yet, as nbgrader's Gradebook does
    (its tables, stamped with the newest migration), but reading that migration in this
    process: nbgrader runs `alembic heads` in a subprocess for it, seconds of start-up on
    every new gradebook. An existing gradebook is left to nbgrader's own checks.
    Under the gradebook's writer lock: two runs starting at once on a new database would
    both find no tables and both create them (the second fails on a duplicate table). The
    course's row too, new gradebook or not: nbgrader's Gradebook adds it when it is missing,
    and two runs opening their first Gradebook at once both added it (the second failed)."""
    import sqlalchemy
    from nbgrader.api import Base, Course
    from .grade.gradebook import writing
    engine = sqlalchemy.create_engine(db_url)
    try:
        with writing(db_url), engine.begin() as connection:
            if not sqlalchemy.inspect(connection).get_table_names():
                # imported only for a new gradebook: alembic's import is 0.1 s of every run's start-up
                from alembic.script import ScriptDirectory
                from nbgrader import dbutil
                Base.metadata.create_all(connection)
                connection.execute(sqlalchemy.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                connection.execute(sqlalchemy.text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                                   {"head": ScriptDirectory(dbutil.ALEMBIC_DIR).get_current_head()})
            course = Course.__table__
            if connection.execute(sqlalchemy.select(course.c.id).where(course.c.id == COURSE_ID)).first() is None:
                connection.execute(course.insert().values(id=COURSE_ID))
    finally:
        engine.dispose()


def generate_assignment(root, db_url, assignment, timeout=CELL_TIMEOUT):
    """nbgrader generate_assignment of `assignment` of the course at `root` into the gradebook `db_url`:
    the assignment, its notebooks and cell checksums in the gradebook, release/ written.
    Returns nbgrader's result dict (success, log, error)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    prefer_this_environment()
    create_gradebook(db_url)
    config = nbgrader_config(root, db_url, timeout)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    return api.generate_assignment(assignment, force=True, create=True)


def prefer_this_environment():
    """Put this interpreter's bin/ first on PATH.

    nbgrader runs `alembic` from PATH to create a gradebook, and kernels may be
    started as `python`: both must come from the environment we run in (the
    project's .venv/) even when it is not activated.
    """
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
