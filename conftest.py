"""Make the repository importable in every kernel the tests start (nbval's, nbgrader's):
the hidden tests of the source notebooks import `autograder`. Run the longest test modules first."""
import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent)
paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
if ROOT not in paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in paths if p])


# The test modules that take minutes (each grades a class, a corpus or a course, or builds a venv),
# longest first, as a fresh-clone CI run measured them (2026-12-01, seconds of one xdist worker:
# hostile corpus 266, unprivileged 221, gradescope 177, assignments 149, student view 133, postgres
# 115, term 103, feedback 99, e2e 99, vs nbgrader 90, cluster 76, environment 64). `make test` runs
# the modules in this order (--no-loadscope-reorder: xdist would start the modules with the most
# tests first), so that no long module begins last and runs alone while the other worker idles
# (measured: the run's wall was 54% of the two workers' work in xdist's order, 51% in this one).
# xdist gives a worker its next module when two of its tests are left, so which modules run side
# by side still varies.
LONGEST_FIRST = ["tests/test_grade_hostile.py", "tests/test_gradescope.py", "tests/test_grade_unprivileged.py",
                 "tests/test_assignments.py", "tests/browser/test_student_view.py", "tests/test_postgres.py",
                 "tests/test_term.py", "tests/test_feedback.py", "tests/test_grade_e2e.py",
                 "tests/test_grade_vs_nbgrader.py", "tests/test_cluster.py", "tests/test_environment.py"]


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(LONGEST_FIRST)))
