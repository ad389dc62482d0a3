"""Grade one submission with nbgrader, in a private course, and return the result as data.

Each worker process owns a private nbgrader course (its own folders and a fresh copy
of the template gradebook for every submission), so workers share nothing and never
write the class gradebook: the coordinator does that, from the data returned here
(one submission in, one result out).

Unreadable notebooks are set aside first (they score 0 with the reason), then one
nbgrader autograde runs on the rest; should nbgrader fail a notebook anyway, the ones
it did not finish are autograded one at a time (nbgrader's --notebook), so a broken
notebook costs its own points and no others.
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import shutil
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log, temp_attrs
from traitlets import List, Unicode

from .. import collect, preprocessors, sandbox
from ..course import COURSE_ID, assignment_in, nbgrader_config, prefer_this_environment
from . import feedback

PR_SET_PDEATHSIG = 1

# Failures nbgrader reports in its log, and what they mean for the student.
FAILURES = (
    ("DeadKernelError", "the kernel died while running it (a crash, sys.exit or exhausted memory?)"),
    ("UnresponsiveKernelError", "the kernel stopped responding and could not be interrupted"),
    ("CellTimeoutError", "a cell did not finish in time"),
)


def read_problem(name, data):
    """Why a submitted notebook cannot be graded, or None if it can."""
    if not data.strip():
        return f"{name} is empty"
    try:
        with warnings.catch_warnings():  # duplicate cell ids: nbformat repairs them and warns
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
            nbformat.validate(notebook)
    except UnicodeDecodeError:
        return f"{name} is not a text file"
    except Exception as error:  # nbformat raises several kinds for broken JSON or schema
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"{name} is not a valid notebook ({first[:120]})"
    return None


def failure_reason(name, result):
    text = result.get("error", "") + result.get("log", "")
    for marker, reason in FAILURES:
        if marker in text:
            return f"{name} could not be graded: {reason}"
    lines = [line for line in result.get("error", "").strip().splitlines() if line.strip()]
    return f"{name} could not be graded: {lines[-1][:200] if lines else 'nbgrader failed'}"


class PartAutograde(Autograde):
    """nbgrader's autograde of a part of a submission's notebooks, the others being graded by
    other workers at the same time (a submission alone, while workers would be idle): those of
    `part` are autograded, the others get nbgrader's first pass alone (cells as released, ids
    made unique, outputs cleared: the notebook as it is about to be run), without being run or
    recorded. So each kernel finds the earlier notebooks beside it, as in a whole run: a later
    notebook loads the functions answered in them (rnn_utils.load_functions), from answer cells
    that are the same either way."""

    part = List(Unicode(), help="The names of the notebooks to run.")

    def init_notebooks(self):
        """Not the notebooks after the part's: no kernel of the part would find them."""
        super().init_notebooks()
        for assignment, found in self.assignments.items():
            self.assignments[assignment] = [path for path in found if Path(path).stem <= max(self.part)]

    def convert_single_notebook(self, notebook_filename):
        self._runs = Path(notebook_filename).stem in self.part
        super().convert_single_notebook(notebook_filename)

    def _init_preprocessors(self):
        super()._init_preprocessors()
        if not self._sanitizing and not self._runs:
            self.exporter._preprocessors = []


class Worker:
    """A private nbgrader course in a temporary folder, reused for one submission after another."""

    def __init__(self, course_source, template_db, timeout, workdir=None, unsafe=False, feedback=True):
        prefer_this_environment()
        preprocessors.one_engine_per_gradebook()
        self.root = Path(tempfile.mkdtemp(prefix="worker-", dir=workdir))
        os.chmod(self.root, 0o755)
        # Student kernels start in the sandbox, see nothing of the grader but the probe, and
        # import nothing from ROOT.
        sandbox.current = sandbox.Sandbox(self.root / "sandbox", unsafe=unsafe)
        sandbox.current.use()
        os.environ.pop("PYTHONPATH", None)
        (self.root / "source").symlink_to(Path(course_source).resolve())
        self.template_db = Path(template_db)
        self.db = self.root / "gradebook.db"
        config = sandbox.current.kernel_config(nbgrader_config(self.root, f"sqlite:///{self.db}", timeout=timeout))
        self.coursedir = CourseDirectory(config=config)
        self.api = NbGraderAPI(coursedir=self.coursedir, config=config)
        # The student's log (OUT/logs) keeps what an instructor should read: nbgrader's warnings
        # and errors, not its progress ("Converting", "Writing N bytes", "Copying").
        self.api.log.setLevel(logging.WARNING)
        self.assignment = assignment_in(self.root / "source")
        self.feedback = feedback   # False: no pages now (`grade --feedback later`, then `autograder feedback`)
        self.notebooks = sorted(p.stem for p in (self.root / "source" / self.assignment).glob("*.ipynb"))

    def _reset(self, student_id):
        preprocessors.LAYOUTS.clear()
        for folder in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self.root / folder, ignore_errors=True)
        shutil.copyfile(self.template_db, self.db)

    def grade(self, submission, part=None):
        """Grade `submission`; never raises. Returns a dict (plain data, picklable). `part`: the
        names of the notebooks to grade (None: every one), the others being graded by other
        workers at the same time (see PartAutograde): then no pages, which show the scores of
        every notebook, and this worker's gradebook has the part's alone."""
        start = time.monotonic()
        student = submission.student_id
        result = {"student_id": student, "assignment": self.assignment, "notebooks": {},
                  "notes": list(submission.notes), "log": ""}
        try:
            self._reset(student)
            submitted = self.root / "submitted" / student / self.assignment
            files = dict(submission.files)
            for name in self.notebooks:
                data = files.get(f"{name}.ipynb")
                problem = f"{name}.ipynb was not submitted" if data is None else read_problem(f"{name}.ipynb", data)
                if part is None or name in part:
                    result["notebooks"][name] = {"problem": problem, "autograded": None, "feedback": None}
                if problem:
                    files.pop(f"{name}.ipynb", None)  # nbgrader then scores it as missing: zero
            collect.write(collect.Submission(student, files, submission.timestamp), submitted)
            gradable = [name for name, entry in result["notebooks"].items() if not entry["problem"]]
            if gradable:
                self._autograde(student, "*", result, part)
                failed = [name for name in gradable if not result["notebooks"][name]["autograded"]]
                if failed and part:  # nbgrader failed the whole run, and so removed every notebook
                    self._prepare_earlier(student, part, files)
                for name in failed:
                    self._autograde(student, name, result)
            else:  # nothing for nbgrader to grade: the submission alone, for the feedback's scores (all 0)
                with Gradebook(f"sqlite:///{self.db}", COURSE_ID) as gb:
                    gb.update_or_create_student(student)
                    gb.update_or_create_submission(self.assignment, student)
            if self.feedback and part is None:
                self._feedback(student, result)
        except Exception:  # the grader's own failure: reported, never fatal to the batch
            result["error"] = "internal grader error: " + traceback.format_exc().strip().splitlines()[-1]
            result["log"] += traceback.format_exc()
        result["seconds"] = time.monotonic() - start
        return result

    def _folder(self, kind, student):
        return self.root / kind / student / self.assignment

    def _autograde(self, student, notebook_id, result, part=None):
        """nbgrader autograde for one notebook or all ("*"; only those of `part` run, see
        PartAutograde); keeps every autograded notebook of the result it made. As
        NbGraderAPI.autograde runs it."""
        with temp_attrs(self.coursedir, assignment_id=self.assignment, student_id=student, notebook_id=notebook_id):
            app = (PartAutograde if part else Autograde)(coursedir=self.coursedir, parent=self.api)
            app.force, app.create_student = True, True
            if part:
                app.part = list(part)
            graded = capture_log(app)
        result["log"] += (graded.get("log", "") + graded.get("error", "")).replace(str(self.root), "course")
        for name, entry in result["notebooks"].items():
            path = self._folder("autograded", student) / f"{name}.ipynb"
            if path.exists() and not entry["problem"]:
                entry["autograded"] = path.read_text()
        if notebook_id != "*" and not graded["success"]:
            result["notebooks"][notebook_id]["problem"] = failure_reason(f"{notebook_id}.ipynb", graded)

    def _prepare_earlier(self, student, part, files):
        """Before the notebooks of `part` are autograded one at a time: each submitted notebook
        before them, as PartAutograde leaves it, one at a time (one nbgrader fails is left out).
        So each kernel finds beside it the earlier notebooks that a whole run's own one-at-a-time
        retries leave there (a later notebook loads their answers: rnn_utils.load_functions)."""
        for name in self.notebooks:
            if name < min(part) and f"{name}.ipynb" in files:
                with temp_attrs(self.coursedir, assignment_id=self.assignment, student_id=student, notebook_id=name):
                    app = PartAutograde(coursedir=self.coursedir, parent=self.api, part=list(part))
                    app.force, app.create_student = True, True
                    capture_log(app)

    def _feedback(self, student, result):
        """nbgrader generate_feedback for every autograded notebook, in one run."""
        folder = self._folder("autograded", student)
        folder.mkdir(parents=True, exist_ok=True)
        for name, entry in result["notebooks"].items():
            # a failed nbgrader run removes the folder: put back what was graded; a notebook that could
            # not be graded gets a stand-in that says why, so that it has a page too
            text = entry["autograded"] or (feedback.standin(entry["problem"]) if entry["problem"] else None)
            if text:
                path = folder / f"{name}.ipynb"
                path.unlink(missing_ok=True)  # nbgrader leaves it read-only (root alone would not notice)
                path.write_text(text)
        made = self.api.generate_feedback(self.assignment, student, force=True)
        if not made["success"]:
            result["log"] += (made.get("log", "") + made.get("error", "")).replace(str(self.root), "course")
        for name, entry in result["notebooks"].items():
            html = self._folder("feedback", student) / f"{name}.html"
            if (entry["autograded"] or entry["problem"]) and html.exists():
                entry["feedback"] = html.read_text()


# One Worker per process of the pool (set by `start`, used by `grade`).
_worker = None


def start(course_source, template_db, timeout, workdir, log_file=None, unsafe=False, feedback=True):
    """Pool initializer. The worker's and its kernels' stdout and stderr (kernel start-up
    warnings, tracebacks) go to `log_file`, keeping the instructor's terminal quiet."""
    global _worker
    # A worker ends with the process that forked it. Killed (SIGKILL, a crash), a coordinator left
    # its workers waiting for jobs forever, and they take SIGTERM as it does: finish, then stop.
    parent = multiprocessing.parent_process()  # None: not a pool's process (a test's, a script's)
    if parent is not None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent.pid:  # it died before the line above
            os._exit(1)
    if log_file:
        with open(log_file, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
    warnings.simplefilter("ignore")
    _worker = Worker(course_source, template_db, timeout, workdir, unsafe, feedback)


def started():
    """A job that does nothing: handing it out starts the worker processes."""


def grade(submission, part=None):
    return _worker.grade(submission, part)
