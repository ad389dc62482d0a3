"""nbgrader's configuration for this course; the settings live in autograder/course.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autograder.course import nbgrader_config  # noqa: E402

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
c.merge(nbgrader_config())
