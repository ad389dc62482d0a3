"""`python -m autograder grade SUBMISSIONS --out OUT`: grade a whole class, in parallel.

The steps, as an instructor would do them by hand with nbgrader:
1. set up the course in OUT/course: the source, the assignment in the gradebook
   (generate_assignment), an nbgrader_config.py so formgrader and export work there;
2. collect SUBMISSIONS (a folder or a .zip) into one submission per student;
3. autograde each submission in a worker process (`--workers`), each worker in a
   private nbgrader course (see worker.py), skipping submissions graded before
   whose content and grader are unchanged;
4. record each result in the class gradebook as it arrives (this process only);
5. report: grades.csv, results/<student>.json, feedback/, report.png, a summary table.
"""

import concurrent.futures as futures
import contextlib
import dataclasses
import datetime
import fcntl
import functools
import hashlib
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import sqlalchemy
import sqlalchemy.exc

from .. import atomic, collect, hidden, late, reference, release, roster, sandbox, submit
from ..course import (CELL_TIMEOUT, ROOT, assignment_in, create_gradebook, generate_assignment,
                      prefer_this_environment)
from . import cluster, feedback, gradebook, lms, report, worker


# What the release gives students besides the graded notebooks, handed in with them by nbgrader's
# exchange or a zip of the whole folder: set aside without a note in the student's status.
UNGRADED_NOTEBOOKS = (release.LAB,)


def set_aside_note(submission):
    """What the student's status says of the files not graded (None: nothing to say; the
    release's ungraded lab, handed in with the notebooks, is nothing to say)."""
    set_aside = [(path, why) for path, why in submission.set_aside if why not in (collect.UNGRADED,
                                                                                   collect.OTHER_ASSIGNMENT)]
    if set_aside:
        return (f"files set aside: {len(set_aside)} (see collection.csv): "
                + "; ".join(f"{Path(path).name}: {why}" for path, why in set_aside[:3]))
    return None


class SetupError(RuntimeError):
    """The instructor's side is broken: nothing can be graded until it is fixed."""


COURSE_CONFIG = '''"""nbgrader configuration for this graded class (written by `python -m autograder grade`).
Paths are taken from where this file is, so a moved or copied OUT reads its own gradebook."""
import os
import sys
here = os.path.dirname(os.path.abspath(__file__))
try:
    import autograder  # installed (pip install -e .)
except ImportError:
    sys.path.insert(0, {root!r})
from autograder.course import nbgrader_config

# The late policy `grade --late-policy` was given (nbgrader's AssignLatePenalties, configured).
LATE_POLICY = {late_policy!r}
c = get_config()  # noqa: F821
c.merge(nbgrader_config(here, {db_url}, late_policy=LATE_POLICY))
'''


def late_policy(course):
    """The late policy the course's nbgrader_config.py was written with ("none" when none)."""
    import re
    try:
        found = re.search(r"^LATE_POLICY = '([^'\n]*)'$", (course / "nbgrader_config.py").read_text(), re.M)
    except OSError:
        found = None
    return found.group(1) if found else "none"


def _config_db_url(course, db_url):
    """The gradebook URL as course/nbgrader_config.py spells it: relative to the file when it
    is the SQLite gradebook inside the course."""
    if db_url == f"sqlite:///{(course / 'gradebook.db').resolve()}":
        return '"sqlite:///" + os.path.join(here, "gradebook.db")'
    return repr(db_url)


def _generate_assignment(course, db_url, timeout):
    result = generate_assignment(course, db_url, assignment_in(course / "source"), timeout)
    if not result["success"]:
        raise SetupError(f"nbgrader generate_assignment failed for the gradebook {db_url}:\n"
                         + (result.get("error") or result.get("log", "")).strip()[-2000:])


def check_database(db_url):
    """Fail early, in one sentence, on a gradebook URL that cannot be used."""
    try:
        engine = sqlalchemy.create_engine(db_url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # SQLAlchemy raises many kinds: bad scheme, missing driver, refused connection
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SetupError(f"cannot use the gradebook {db_url}: {first}") from None


def copy_source(out, source):
    """OUT/course/source/<assignment>, fresh from `source` (the assignment's source folder, whose
    name is the assignment's), and OUT/course/earlier/<name> for each assignment it takes functions
    from; returns OUT/course."""
    source = Path(source)
    if not any(source.glob("*.ipynb")):
        raise SetupError(f"no source notebooks in {source}: pass an assignment's source folder "
                         f"(source/<assignment> of the course).")
    course = out / "course"
    compiled = ("*.py[co]", "__pycache__")
    for folder in (course / "source", course / reference.EARLIER):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, course / "source" / source.name, ignore=shutil.ignore_patterns(*compiled))
    # The assignments whose functions it takes, as the instructor's course has them (graded against
    # them): their notebooks, not their mistakes.
    try:
        earlier = reference.of(source).earlier_folders
    except Exception:  # a broken exercises.py: check_assignment says so, in one sentence
        earlier = {}
    for name, folder in earlier.items():
        if folder.is_dir():
            shutil.copytree(folder, course / reference.EARLIER / name,
                            ignore=shutil.ignore_patterns(*compiled, reference.GRADING))
    return course


def register_assignment(course, db_url, template, timeout, late_policy="none", kept=None):
    """The assignment in the class gradebook (with an nbgrader_config.py beside it, so that
    formgrader and `nbgrader export` work in OUT/course), and in `template`: a gradebook
    with the assignment and nothing else, that each worker copies to grade a submission in.
    `kept`: where the template is kept between runs. Each nbgrader generate_assignment costs
    a second or more: the kept template serves while the source and the grader are the same,
    and the class gradebook is registered again only when its record of the assignment
    differs from the template's (a later run, grading one more student, does neither)."""
    (course / "nbgrader_config.py").write_text(COURSE_CONFIG.format(root=str(ROOT), late_policy=late_policy,
                                                                    db_url=_config_db_url(course, db_url)))
    template.unlink(missing_ok=True)
    assignment = assignment_in(course / "source")
    key = fingerprint(course, timeout)
    kept_key = kept.with_suffix(".key") if kept else None
    cached = registered_cache() / f"{key}.db"
    if kept and kept.exists() and kept_key.exists() and kept_key.read_text() == key:
        shutil.copyfile(kept, template)
    else:
        if cached.is_file():  # another OUT's run registered the same source with the same grader
            shutil.copyfile(cached, template)
        else:
            _generate_assignment(course, f"sqlite:///{template.resolve()}", timeout)
            with contextlib.suppress(OSError):  # a user without a writable home grades without the cache
                cached.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                _copy_whole(template, cached)
        if kept:  # the key last, each file whole (a run killed here leaves no key, or the old pair)
            kept.parent.mkdir(exist_ok=True)
            kept_key.unlink(missing_ok=True)
            _copy_whole(template, kept)
            kept_key.with_suffix(".newkey").write_text(key)
            os.replace(kept_key.with_suffix(".newkey"), kept_key)
    with gradebook.writing(db_url):
        class_db = Path(db_url[len("sqlite:///"):]) if db_url.startswith("sqlite:///") else None
        if class_db and (not class_db.exists() or class_db.stat().st_size == 0 or gradebook.is_empty(db_url)):
            shutil.copyfile(template, class_db)  # a new class gradebook: the same, one nbgrader run sooner
        elif gradebook.assignment_record(db_url, assignment) != \
                gradebook.assignment_record(f"sqlite:///{template.resolve()}", assignment):
            _generate_assignment(course, db_url, timeout)


def registered_cache():
    """Where templates are kept for every OUT of this user, named by their fingerprint: a new OUT
    (a Gradescope submission's, a new batch's, a test's) then skips nbgrader generate_assignment,
    2.4 s of a one-submission run on this machine. The instructor's own cache: it holds the
    source's cells, hidden tests included, as OUT/course does."""
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(home) / "autograder" / "registered"


def _copy_whole(source, target):
    """Copy `source` to `target` whole: a reader finds the whole file or the one before it."""
    part = target.with_name(f"{target.name}.{os.getpid()}.new")
    try:
        shutil.copyfile(source, part)
        os.replace(part, target)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        raise


def fingerprint(course, timeout):
    """What a grade depends on besides the submission: the source, the grader's code, the limits."""
    import nbgrader
    h = hashlib.sha256(f"{timeout} {nbgrader.__version__}".encode())  # nbgrader's checksums and tables
    files = sorted((course / "source").rglob("*")) + sorted((ROOT / "autograder").rglob("*.py")) + \
        sorted((ROOT / "autograder" / "templates").rglob("*"))  # the feedback page's template
    graded = reference.of(course / "source" / assignment_in(course / "source"))
    for other in sorted(graded.earlier_folders.values()):  # the reference its exercises call
        files += sorted(other.rglob("*"))
    for path in files + [ROOT / "rnn_utils.py", ROOT / "rnn_checks.py", ROOT / "rnn_relations.py"]:
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _state_path(out, student):
    return out / ".state" / f"{student}.json"


LOCKS = ".locks"           # OUT/.locks/<student>: see student_files_locked
FILES_LOCK_SECONDS = 300  # far more than a student's pages take: only a stuck grader makes the wait end


@contextlib.contextmanager
def student_files_locked(out, student, seconds=FILES_LOCK_SECONDS):
    """Held while a grader writes `student`'s graded files in OUT (autograded notebooks, feedback
    pages, state): a service's and a `feedback` run's, or two `grade` runs', one after the other.
    Two at once, nbgrader's generate_feedback (which starts by removing the student's feedback
    folder) failed 4 times in 30 and could leave the student without pages. Past `seconds`, the
    files are written without it."""
    folder = out / LOCKS
    folder.mkdir(exist_ok=True)
    fd = os.open(folder / student, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def _stored_state(out, student):
    """What the last grading of `student` saved in OUT/.state ({} when nothing was)."""
    try:
        return json.loads(_state_path(out, student).read_text())
    except (OSError, ValueError):
        return {}


def _still_good(in_gradebook, student, state, key):
    """Whether the saved grading `state` of `student` still stands: the same submission and
    grader (`key`), graded fully, and the student still in the gradebook (`in_gradebook`: the
    ids of the assignment's submissions there)."""
    result = state.get("result")
    return state.get("key") == key and result is not None and graded_fully(result) and student in in_gradebook \
        and not state.get("pages_owed")


def graded_fully(result):
    """False when the grader, not the submission, failed (a crash, an internal error, a notebook
    nbgrader could not finish): such a student is graded again on the next run, never served
    from the cache."""
    return not result.get("error") and not any(
        "could not be graded" in (entry.get("problem") or "") for entry in result.get("notebooks", {}).values())


def _link_or_copy(source, target):
    """A hard link to the course's copy of a figure or module (2.5 MB a student, twice, for a
    class of thousands), or a copy where links cannot be made. OUT/course/source is made anew
    by each run (copy_source): a link keeps the file as it was when the student was graded."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _save(out, course, submission, result, key, db_url=None, pages=True, owed=False):
    """Write one student's files, then the state that lets a later run skip them (last, atomically).
    `pages`: every notebook gets its feedback page now (False: `grade --feedback later`, or `owed`:
    made by make_owed_pages once the results are out; until then, a later run grades the student
    again)."""
    with student_files_locked(out, submission.student_id):
        _save_files(out, course, submission, result, key, db_url, pages, owed)


def _save_files(out, course, submission, result, key, db_url, pages, owed):
    student, assignment = submission.student_id, result["assignment"]
    graded_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    collect.write(submission, course / "submitted" / student / assignment)
    autograded = course / "autograded" / student / assignment
    feedback_folder = course / "feedback" / student / assignment
    for folder in (autograded, feedback_folder):
        shutil.rmtree(folder, ignore_errors=True)
        # What nbgrader's own autograde and generate_feedback put beside the notebooks: the
        # figures they show (from the source, not from the student), the submission time and
        # the exchange's secret, which `nbgrader release_feedback` reads.
        # Not the files written below: a write into a hard link would reach the course's copy and
        # every other student's.
        # Nor grading.py, which only the grader reads (nbgrader's autograde leaves it out too).
        shutil.copytree(course / "source" / assignment, folder, copy_function=_link_or_copy,
                        ignore=shutil.ignore_patterns("*.ipynb", "*.html", "timestamp.txt", "submission_secret.txt",
                                                      reference.GRADING))
        # Students from an LMS download have neither: release_feedback would stop at the first of
        # them (the time of grading, and a secret nobody holds, let it pass them).
        (folder / "timestamp.txt").write_text(submission.timestamp or graded_at)
        (folder / "submission_secret.txt").write_bytes(
            submission.files.get("submission_secret.txt", b"")[:256] or secrets.token_hex(16).encode())
    for name, entry in result["notebooks"].items():
        if entry.get("autograded"):
            (autograded / f"{name}.ipynb").write_text(entry["autograded"])
        elif entry.get("problem"):  # nbgrader's generate_feedback, run here by hand, says why too
            (autograded / f"{name}.ipynb").write_text(feedback.standin(entry["problem"]))
        if entry.get("feedback"):
            (feedback_folder / f"{name}.html").write_text(entry["feedback"])
    # A grading that crashed (or failed inside the grader) returned no page: every notebook still
    # gets one, saying so, made here by nbgrader's generate_feedback from stand-ins.
    unpaged = [path.stem for path in sorted((course / "source" / assignment).glob("*.ipynb"))
               if not (feedback_folder / f"{path.stem}.html").exists()]
    if unpaged and db_url:
        why = result.get("error") or "the grader could not finish it"
        for name in unpaged:
            if not (autograded / f"{name}.ipynb").exists():
                (autograded / f"{name}.ipynb").write_text(feedback.standin(why))
        if pages:
            made = feedback.generate(course, db_url, student)
            if not made["success"]:
                result["log"] = result.get("log", "") + made.get("log", "") + made.get("error", "")
    (out / "logs").mkdir(exist_ok=True)
    (out / "logs" / f"{student}.log").write_text(result.get("log", ""))
    state = {"key": key, "result": {k: v for k, v in result.items() if k != "log"}}
    if owed:
        state["pages_owed"] = True
    for entry in state["result"]["notebooks"].values():
        entry.pop("feedback", None)
    _write_state(out, student, state)


def make_owed_pages(out, course, db_url, student):
    """The feedback pages that _save left `owed` for `student`, made now with nbgrader's
    generate_feedback; then the state no longer owes them."""
    with student_files_locked(out, student):
        state = _stored_state(out, student)
        if not state.get("pages_owed"):
            return
        made = feedback.generate(course, db_url, student)
        if not made["success"]:
            with open(out / "logs" / f"{student}.log", "a") as log:
                log.write(made.get("log", "") + made.get("error", ""))
        _pages_made(out, student, state)


def _pages_made(out, student, state=None):
    """`student`'s state (read here when not given) no longer owes feedback pages (they were
    made, by make_owed_pages or `autograder feedback`): a later run serves the student from the
    cache again."""
    state = _stored_state(out, student) if state is None else state
    if state.pop("pages_owed", False):
        _write_state(out, student, state)


def _write_state(out, student, state):
    path = _state_path(out, student)
    path.parent.mkdir(exist_ok=True)
    atomic.write_text(path, json.dumps(state), mode=0o600)  # it holds the autograded notebooks


def _crashed(submission, assignment):
    return {"student_id": submission.student_id, "assignment": assignment, "notebooks": {}, "notes": [], "log": "",
            "seconds": 0.0, "error": "the grading process crashed on this submission"}


# At most this many results in one transaction: an SQLite gradebook is locked for formgrader while it lasts.
RECORDED_AT_ONCE = 50


def merged(pieces):
    """One submission's result from the results of its parts (each a dict as worker.grade returns)."""
    if len(pieces) == 1:
        return pieces[0]
    result = dict(pieces[0], notebooks={}, log="", seconds=max(piece["seconds"] for piece in pieces))
    for piece in pieces:
        result["notebooks"].update(piece["notebooks"])
        result["log"] += piece["log"]
        if piece.get("error"):
            result["error"] = piece["error"]
    result["notebooks"] = dict(sorted(result["notebooks"].items()))  # in the assignment's order, as a whole run's
    return result


class WorkerPool:
    """`workers` grading processes (worker.py), each set up with `initargs`; a pool that crashed
    is started again once for what it left. Kept between batches by `serve`."""

    def __init__(self, workers, initargs):
        self.workers, self.initargs, self._pool = workers, initargs, None

    def _executor(self):
        if self._pool is None:
            # Forked workers start at once, with nbgrader already imported here; spawned ones take
            # seconds each to import it. No thread runs in this process when they are forked.
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                                  else "spawn")
            self._pool = futures.ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                     initializer=worker.start, initargs=self.initargs)
        return self._pool

    def start(self):
        """Start the worker processes now (they take seconds to import nbgrader and start their
        fork servers): the first job handed out starts them all."""
        self._executor().submit(worker.started)

    def grade(self, todo, on_results, progress, stop, crashed, parts=None):
        """Grade `todo`. on_results([(submission, result)]) gets the results that are in each time
        it is called: one when it keeps up, all those that came while it worked when it does not
        (recorded in one transaction). When `stop` is set (Ctrl-C), the submissions under way
        finish and are saved, the rest wait (KeyboardInterrupt). `parts`: the notebooks of each
        submission in parts, each graded by a worker of its own (worker.PartAutograde), then the
        parts' results merged (None: each submission by one worker)."""
        for attempt in (1, 2):
            left, pool, pieces, shares = {}, self._executor(), {}, parts or [None]
            jobs = {pool.submit(worker.grade, submission, part): submission for submission in todo for part in shares}
            pending = set(jobs)
            try:
                while pending:
                    done, pending = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                    results = []
                    for job in done:
                        submission = jobs[job]
                        try:
                            piece = job.result()
                        except futures.process.BrokenProcessPool:
                            left[submission.student_id] = submission
                            continue
                        got = pieces.setdefault(submission.student_id, [])
                        got.append(piece)
                        if len(got) == len(shares) and submission.student_id not in left:
                            results.append((submission, merged(got)))
                    if results:
                        on_results(results)
                        progress.update(len(results))
                    if stop.is_set():
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            except Exception:
                for job in pending:  # on_results failed: the jobs not begun are not needed (serve goes on)
                    job.cancel()
                raise
            if not left:
                return
            self.close()
            todo = list(left.values())
        on_results([(submission, crashed(submission)) for submission in todo])
        progress.update(len(todo))

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def grade(submissions_path, out, workers=None, timeout=CELL_TIMEOUT, db_url=None, log=print, scheduler=None,
          unsafe=False, source=None, due=None, late_policy=None, roster_path=None, uploads=None,
          test_visibility=report.TEST_VISIBILITY, owners=frozenset(), feedback="now", key=None, figure=True):
    """Grade every submission of one assignment, whose source folder is `source` (default: the
    course's only assignment), in `submissions_path` into `out`; returns the grades.csv rows.
    `due` (an aware datetime) and `late_policy` (late.parse) set the assignment's due date and
    late policy, kept in OUT for later runs; `roster_path` is a roster CSV (roster.read);
    `uploads`, a collect.Collection to grade instead of reading `submissions_path` (Gradescope);
    `key`, the course's key that hidden inputs are drawn with (the Gradescope zip's; default: the
    one in OUT/course, made by the first run: hidden.course_key); `figure`: whether to draw
    report.png (not for a Gradescope run, whose OUT is thrown away).

    Ctrl-C only asks to stop (KeyboardInterrupt is raised here, after the submissions under
    way are saved): raised inside nbgrader's or SQLAlchemy's code, it can be swallowed there
    (nbgrader's capture_log catches everything) or leave a half-written gradebook. A second Ctrl-C
    does not wait: the worker processes are killed (their sandboxes end with them) and what they
    were grading is graded on the next run."""
    if source is None:
        sources = chosen_sources()
        sources = list(held(submissions_path, sources)) if len(sources) > 1 and uploads is None else sources
        if len(sources) != 1:
            raise SetupError(f"{submissions_path} holds submissions of {len(sources)} of the course's assignments: "
                             f"pass the one to grade.")
        source = sources[0]
    stop = threading.Event()

    def interrupt(*args):
        if stop.is_set():
            for child in multiprocessing.active_children():
                child.kill()
        else:
            print("stopping after the submissions under way (Ctrl-C again to stop now)", file=sys.stderr)
        stop.set()
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        return _grade(submissions_path, out, workers, timeout, db_url, log, stop, scheduler, unsafe, source,
                      Options(due, late_policy, roster_path, uploads, test_visibility, owners, feedback, key, figure))
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclasses.dataclass
class Options:
    """What issue 18 added to a grading run: due date, late policy, roster, uploads, visibility."""
    due: datetime.datetime | None = None
    late_policy: str | None = None
    roster_path: str | None = None
    uploads: object = None
    test_visibility: str = report.TEST_VISIBILITY
    owners: frozenset = frozenset()   # the students of the course's other assignments (collect's `owners`)
    feedback: str = "now"             # "later": no feedback pages while grading (`autograder feedback` makes them)
    key: bytes | None = None          # the key hidden inputs are drawn with (None: OUT/course's own)
    figure: bool = True               # report.png (matplotlib: a second of imports and drawing)


class Grading:
    """One assignment graded into OUT: set up once (the course, the key hidden inputs are drawn
    with, the gradebook), then batches of submissions, each student recorded as their result
    comes in, then the reports. `grade` grades one batch; `serve` one per request. `out` is made
    and writable (`writable`: the callers lock a file in it first)."""

    def __init__(self, out, source, timeout, db_url, log, unsafe, options):
        prefer_this_environment()
        # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings; they say nothing to an instructor.
        warnings.filterwarnings("ignore", category=sqlalchemy.exc.SAWarning)
        self.out = out = Path(out).resolve()
        self.source, self.timeout, self.log, self.unsafe, self.options = source, timeout, log, unsafe, options
        self.course = course = copy_source(out, source)
        # Made before any worker starts: every submission's hidden inputs are drawn with it.
        key = hidden.course_key(course, options.key)
        self.assignment = assignment = assignment_in(course / "source")
        check_assignment(course / "source" / assignment, Path(source).resolve())
        self.crashed = functools.partial(_crashed, assignment=assignment)
        _link_feedback(out, course)
        self.db_url = db_url = db_url or f"sqlite:///{(course / 'gradebook.db').resolve()}"
        check_database(db_url)
        create_gradebook(db_url)  # once, locked: every later open finds the tables (nbgrader's would race)
        self.template = out / ".work" / "template_gradebook.db"
        self.template.parent.mkdir(exist_ok=True)  # workers make their folders in it while the template is made
        self.notebooks = collect.cell_ids(course / "source" / assignment)  # names, and cells to know them by
        self.policy = options.late_policy or late_policy(course)
        self.students = roster.read(options.roster_path) if options.roster_path else []
        # A student graded without pages is graded again by a run that makes them (and the other way);
        # every student, under a new key (other hidden inputs).
        self.key_base = fingerprint(course, timeout) + \
            ("" if options.feedback == "now" else " feedback " + options.feedback) + \
            " key " + hashlib.sha256(key).hexdigest()
        self.known, self.keys, self.kept_by_hand, self.due_date = {}, {}, [], None

    def collected(self, submissions_path, uploads=None, csv_path=None):
        """The submissions in `submissions_path` (or `uploads`), each with its notes; what the
        roster and the LMS say of each student is kept for recording them."""
        collection = uploads or collect.collect(submissions_path, self.assignment, self.notebooks,
                                                ungraded=UNGRADED_NOTEBOOKS, others=course_assignments(self.source),
                                                owners=self.options.owners)
        csv_path = csv_path or self.out / "collection.csv"
        collection.write_csv(csv_path)
        self.log(f"Collected {len(collection.submissions)} students from {collection.summary()} (each file's "
                 f"fate: {csv_path}).")
        submissions = list(collection.submissions)
        self.known.update(roster.match(submissions, self.students))
        for submission in submissions:
            if submission.student_id not in self.known and \
                    (submission.name or submission.email or submission.lms_user_id):
                first, last = roster.split_name(submission.name or "")
                self.known[submission.student_id] = roster.Student(submission.student_id, first, last,
                                                                   submission.email, submission.lms_user_id)
            note = set_aside_note(submission)
            if note:
                submission.notes.append(note)
        return submissions

    def to_grade(self, submissions):
        """Those of `submissions` whose saved grading does not stand (a new file, a new grader)."""
        todo, in_gradebook = [], set(gradebook.students(self.db_url, self.assignment))
        for submission in submissions:
            student = submission.student_id
            self.keys[student] = record_key(self.key_base, submission, self.known.get(student), self.options.due)
            state = _stored_state(self.out, student)
            if submission.submitted_as == student:
                # nbgrader's layout (OUT/course/submitted, where its exchange collects) knows the safe
                # id only: the name an earlier download gave is kept
                submission.submitted_as = (state.get("result") or {}).get("submitted_as", student)
            if not _still_good(in_gradebook, student, state, self.keys[student]):
                todo.append(submission)
        return todo

    def check_sandbox(self, scheduler=None):
        problem = None if self.unsafe or scheduler else sandbox.namespaces_problem()
        if problem:
            raise SetupError(f"cannot sandbox student code: {problem}.")
        if not scheduler:
            self.log("Sandbox: " + (sandbox.UNSAFE_WARNING if self.unsafe else sandbox.describe_here()))

    def register(self):
        """The assignment in the gradebook (and the template the workers copy), the due date, the roster."""
        options = self.options
        register_assignment(self.course, self.db_url, self.template, self.timeout, self.policy,
                            kept=self.out / ".registered" / "template_gradebook.db")
        if options.due:
            gradebook.set_due_date(self.db_url, self.assignment,
                                   options.due.astimezone(datetime.timezone.utc).replace(tzinfo=None))
        self.due_date = gradebook.due_date(self.db_url, self.assignment)
        gradebook.add_students(self.db_url, self.students)
        # Import matplotlib (for report.png) while the workers grade: this process waits anyway.
        # Not sooner: the workers wait for the registration, which took 0.5 s instead of 0.07 s
        # with the import's thread holding the GIL beside it.
        if options.figure:
            threading.Thread(target=report.import_matplotlib, daemon=True).start()

    def record(self, done, pages_owed=False):
        """Record [(submission, result)] in one transaction, then write each student's files
        and state (a kill before the commit: graded again on the next run). `pages_owed`: the
        feedback pages are made later, by make_owed_pages (with --feedback now)."""
        entries = []
        for submission, result in done:
            result["submitted_as"] = submission.submitted_as
            entries.append((result, _submitted_at(submission, self.due_date, result),
                            self.known.get(submission.student_id)))
        for first in range(0, len(entries), RECORDED_AT_ONCE):
            gradebook.record_all(self.db_url, entries[first:first + RECORDED_AT_ONCE])
        for submission, result in done:
            if self.kept_by_hand:
                gradebook.put_back(self.db_url, self.assignment, submission.student_id, self.kept_by_hand)
            pages = self.options.feedback == "now"
            _save(self.out, self.course, submission, result, self.keys[submission.student_id], self.db_url,
                  pages=pages and not pages_owed, owed=pages and pages_owed)

    def initargs(self):
        """What each worker process starts with (worker.start)."""
        return (str(self.course / "source"), str(self.template), self.timeout, str(self.out / ".work"),
                str(self.out / "logs" / "workers.log"), self.unsafe, self.options.feedback == "now")

    def reports(self):
        return write_reports(self.out, self.course, self.db_url, self.log, self.options.test_visibility,
                             self.options.figure)


def _grade(submissions_path, out, workers, timeout, db_url, log, stop, scheduler, unsafe, source, options):
    out = Path(out).resolve()
    writable(out)
    lock = submit.locked(out)
    if lock is None and (out / submit.SOCKET).exists():
        raise SetupError(f"{out} is served by `autograder serve`: hand the submissions to it with `python -m "
                         f"autograder submit SUBMISSIONS --out {out}`, or stop it first.")
    if lock is None:  # two runs set up the same course and template gradebook, and the first to end removed .work
        raise SetupError(f"another `grade` is running on {out}: run this one again once it has ended (nothing of "
                         f"either is lost), or grade into another --out.")
    try:
        return _grade_batch(submissions_path, out, workers, timeout, db_url, log, stop, scheduler, unsafe, source,
                            options)
    finally:
        os.close(lock)


def _grade_batch(submissions_path, out, workers, timeout, db_url, log, stop, scheduler, unsafe, source, options):
    from tqdm import tqdm

    run = Grading(out, source, timeout, db_url, log, unsafe, options)
    submissions = run.collected(submissions_path, options.uploads)
    run.kept_by_hand = _follow_source_change(run.out, run.course, run.db_url, submissions, run.notebooks, log)
    todo = run.to_grade(submissions)
    workers = workers or os.cpu_count() or 1
    run.check_sandbox(scheduler)
    where = f"the Dask cluster at {scheduler}" if scheduler else f"{min(workers, max(len(todo), 1))} worker(s)"
    log(f"Grading {len(todo)} of {len(submissions)} submissions with {where}; "
        f"{len(submissions) - len(todo)} unchanged since the last run.")
    if stop.is_set():
        raise KeyboardInterrupt
    if not todo:
        run.register()
    elif scheduler:
        with tqdm(total=len(todo), unit="student", disable=not sys.stderr.isatty(), file=sys.stderr) as progress:
            run.register()
            data = cluster.bundle(run.course / "source", run.template)
            cluster.run(todo, scheduler, data, timeout, run.record, progress, stop, run.crashed,
                        pages=options.feedback == "now")
    else:
        tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked from this one
        with tqdm(total=len(todo), unit="student", disable=not sys.stderr.isatty(), file=sys.stderr) as progress:
            with WorkerPool(max(1, min(workers, len(todo))), run.initargs()) as pool:
                pool.start()
                run.register()  # while the workers start (they wait for the template)
                pool.grade(todo, run.record, progress, stop, run.crashed)
    shutil.rmtree(run.out / ".work", ignore_errors=True)
    _regrade_path(run.out).unlink(missing_ok=True)  # every student is graded under the new source
    return run.reports()


def record_key(key_base, submission, student, due):
    """What a student's saved grading depends on: the grader and source (`key_base`), the files,
    and what is recorded with the grades: the roster's record of the student (an extension
    given later must reach a student graded before) and, for a file the LMS marked late without
    a time, the due date it is counted from."""
    late = submission.late_by_lms and not submission.timestamp
    extra = repr((student, str(due) if late else ""))
    return hashlib.sha256((key_base + submission.digest() + extra).encode()).hexdigest()


def _submitted_at(submission, due, result):
    """When the submission came in: its timestamp.txt (or Gradescope's time); for a file the LMS
    marked late (Canvas's LATE_) without a time, just after the due date, so that nbgrader counts
    it late (a penalty per period then takes one period), and the student's results say so."""
    if submission.timestamp or not submission.late_by_lms:
        return submission.timestamp
    result.setdefault("notes", []).append(
        "the LMS marked this submission late without its time: counted as submitted just after the due date"
        + ("" if due else " (no due date is set: nothing is taken off)"))
    return str(due + datetime.timedelta(seconds=1)) if due else None


def _regrade_path(out):
    return out / ".state" / "source_changed.json"


def describe_change(before, after):
    """What changed between two sets of gradebook.source_cells, in a few words."""
    def names(cells):
        return ", ".join(f"{grade_id} ({kind}, {notebook})" for notebook, grade_id, kind in sorted(cells)[:6]) + \
            (", ..." if len(cells) > 6 else "")
    return "; ".join(f"{verb} {names(cells)}" for verb, cells in (("added", after - before), ("removed", before - after))
                     if cells)


def _follow_source_change(out, course, db_url, submissions, notebooks, log):
    """When the source gained or lost graded, answer or task cells since the gradebook got the
    assignment, nbgrader cannot update it (nor grade with it): the assignment is registered again
    and every student graded again, from this batch or, for the others, from the copy kept in
    OUT/course/submitted. Grades and comments given by hand are kept (returned, to be put back
    as each student is recorded), on the cells that still exist. What is to be done is written
    to OUT/.state first, so that an interrupted run finishes it on the next."""
    path = _regrade_path(out)
    assignment = assignment_in(course / "source")
    before = gradebook.registered_cells(db_url, assignment)
    after = gradebook.source_cells(course / "source" / assignment)
    graded = gradebook.students(db_url, assignment) if before is not None and before != after else []
    if graded:
        plan = {"students": graded, "kept": gradebook.grades_by_hand(db_url, assignment)}
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(plan))
        gradebook.remove_assignment(db_url, assignment)
        log(f"The assignment changed since it was last graded ({describe_change(before, after)}): it is registered "
            f"again and all {len(plan['students'])} students graded again, keeping the {len(plan['kept'])} grades "
            f"and comments given by hand.")
    try:
        plan = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    earlier = set(plan["students"]) - {submission.student_id for submission in submissions}
    if earlier:
        kept = collect.collect(course / "submitted", assignment, notebooks, ungraded=UNGRADED_NOTEBOOKS).submissions
        submissions += [submission for submission in kept if submission.student_id in earlier]
        submissions.sort(key=lambda submission: submission.student_id)
    return plan["kept"]


def writable(out):
    """OUT made, and writable, or a SetupError that says so (not a traceback half-way through)."""
    try:
        (out / "logs").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out / "logs"):
            pass
    except OSError as error:
        raise SetupError(f"cannot write the results to {out}: {error.strerror or error} "
                         f"(pass --out a folder you may write to).") from None


def _link_feedback(out, course):
    """OUT/feedback is nbgrader's feedback folder, OUT/course/feedback (where release_feedback and
    formgrader look), by a relative link, so that a moved or copied OUT keeps it."""
    link, target = out / "feedback", course / "feedback"
    if link.is_dir() and not link.is_symlink():  # an OUT of an earlier version: its files move
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        link.rename(target)
    target.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(Path("course") / "feedback")
    feedback.place_mathjax(target)  # once for every page: feedback/<student>/<assignment>/../../mathjax


def write_reports(out, course, db_url, log=print, test_visibility=report.TEST_VISIBILITY, figure=True):
    """grades.csv, results/, report.png (if `figure`) and the summary, for every student of the gradebook
    (whichever run graded them), from the gradebook's scores (so a grade given in formgrader
    counts) and the messages kept from grading. Returns the grades.csv rows."""
    assignment = assignment_in(course / "source")
    cells = report.grade_cells(course / "source" / assignment)
    notebooks = sorted(p.stem for p in (course / "source" / assignment).glob("*.ipynb"))
    rows, all_results = write_results(out, course, db_url, None, test_visibility)
    report.write_grades(out, rows, notebooks)
    lms.write(out, rows, gradebook.student_records(db_url), assignment)
    if figure:
        report.plot(out, all_results, cells)
    log(report.summary_table(rows, notebooks, report.mistake_counts(all_results)))
    log(f"Wrote {out}/grades.csv, results/, feedback/{', report.png' if figure else ''}; gradebook: {db_url}")
    return rows


def write_results(out, course, db_url, only=None, test_visibility=report.TEST_VISIBILITY):
    """results/<student>.json of the students `only` names (None: every student of the
    gradebook); returns their grades.csv rows and results."""
    assignment = assignment_in(course / "source")
    cells = report.grade_cells(course / "source" / assignment)
    rows, all_results = [], []
    policy = late.config(late_policy(course))
    # The class first: another run on the gradebook may record a student while these queries run,
    # and each later query sees every student this one saw.
    students = gradebook.students(db_url, assignment)
    if only is not None:
        wanted = set(only)
        students = [student for student in students if student in wanted]
    # Penalties follow the scores of the moment (a hand grade changes what "zero" takes): those
    # of every student late, or with a penalty to undo, are assigned again first.
    lateness = gradebook.class_lateness(db_url, assignment)
    penalised = [student for student in students if lateness[student].seconds_late or lateness[student].penalty]
    for student in penalised:
        gradebook.assign_late_penalties(db_url, assignment, student, policy)
    if penalised:
        lateness = gradebook.class_lateness(db_url, assignment)  # the penalties just assigned
    # The whole class's scores in two queries: one student at a time took 40 ms each.
    scores = gradebook.class_scores(db_url, assignment)
    for student in students:
        result = _stored_state(out, student).get("result") or {
            "student_id": student, "notebooks": {}, "notes": ["graded outside this OUT: no messages kept"]}
        student_results, row = report.student_report(result, scores.get(student, {}), cells,
                                                     result.get("submitted_as"), lateness[student], test_visibility)
        report.write_results(out, student, student_results)
        rows.append(row)
        all_results.append(student_results)
    return rows, all_results


def chosen_sources(assignment=None, source=None, sources=ROOT / "source"):
    """The source folders to grade: `source` (a folder; its name is the assignment's), else the
    course's assignment `assignment`, else every assignment of the course."""
    names = reference.assignments(sources)
    if source is not None:
        source = Path(source)
        if assignment and assignment != source.name:
            raise SetupError(f"--source {source} is the assignment {source.name}, not {assignment}: "
                             f"pass one of them.")
        return [source]
    if assignment:
        if assignment not in names:
            raise SetupError(f"the course has no assignment {assignment!r} (source/ holds "
                             f"{', '.join(names) or 'none'}): pass one of them.")
        return [Path(sources) / assignment]
    if not names:
        raise SetupError(f"no assignment in {sources}: pass --source, an assignment's source folder.")
    return [Path(sources) / name for name in names]


def course_assignments(source):
    """The names of the assignments of the course `source` (a source folder) belongs to: its
    sibling folders, and this repository's source/."""
    source = Path(source)
    return frozenset(reference.assignments(source.parent)) | frozenset(reference.assignments()) - {source.name}


def held(submissions_path, sources):
    """{source folder: its Collection} of the assignments of `sources` (their source folders) that
    `submissions_path` holds submissions of: at least one student with one of its notebooks."""
    found = {}
    for source in sources:
        notebooks = collect.cell_ids(source)
        try:
            collection = collect.collect(submissions_path, source.name, notebooks, ungraded=UNGRADED_NOTEBOOKS,
                                         others=course_assignments(source))
        except collect.NoSubmissions:
            continue
        if any(f"{name}.ipynb" in submission.files for submission in collection.submissions for name in notebooks):
            found[source] = collection
    return found


def course_layout(out):
    """The assignments a course's grading wrote in OUT (OUT/<assignment>/course/source/<assignment>), by name."""
    return sorted(p.name for p in Path(out).glob("*/course/source/*") if p.is_dir() and p.parents[2].name == p.name)


def grade_course(submissions_path, out, sources, log=print, **options):
    """Grade each assignment of `sources` (their source folders) that `submissions_path` holds
    submissions of: one alone into OUT, as `grade` does (unless OUT holds a course's grading); several
    each into OUT/<assignment>/ (the layout of one), then the course's grades.csv (a column per
    assignment and notebook) and report.png in OUT. A student has the same id in every assignment.
    Returns {assignment: its grades.csv rows}."""
    out = Path(out).resolve()
    found = held(submissions_path, sources)
    if not found:  # what collecting the first says: what was found instead
        collect.collect(submissions_path, sources[0].name, collect.cell_ids(sources[0]),
                        ungraded=UNGRADED_NOTEBOOKS, others=course_assignments(sources[0]))
        raise collect.NoSubmissions(f"no submission of any assignment of the course "
                                    f"({', '.join(s.name for s in sources)}) in {submissions_path}.")
    if len(found) == 1 and not course_layout(out):
        [source] = found
        return {source.name: grade(submissions_path, out, log=log, source=source, **options)}
    if (out / "course" / "source").is_dir():
        raise SetupError(f"{out} holds the grading of one assignment ({', '.join(reference.assignments(out / 'course' / 'source'))}): "
                         f"grade several into a new --out, or pass --assignment.")
    if len(found) > 1 and (options.get("due") or options.get("late_policy")):
        raise SetupError("--due and --late-policy are an assignment's: pass --assignment with them.")
    skipped = [source.name for source in sources if source not in found]
    if skipped:
        log(f"No submission of {', '.join(skipped)}: not graded.")
    owners = frozenset().union(*(collection.owners() for collection in found.values()))
    graded = {}
    for source in found:
        log(f"== {source.name}")
        graded[source.name] = grade(submissions_path, out / source.name, log=log, source=source, owners=owners,
                                    **options)
    write_course(out, log)
    return graded


def write_course(out, log=print):
    """The course's grades.csv and report.png in OUT, from each assignment's OUT/<assignment>/."""
    names = course_layout(out)
    writable(out)
    report.write_course(out, {name: report.read_class(out / name) for name in names})
    log(f"Wrote {out}/grades.csv and report.png for {', '.join(names)}; each assignment's own in {out}/<assignment>/.")


def check_assignment(source, original=None):
    """SetupError, in one sentence, when the assignment in `source` cannot be graded: its
    exercises.py or grading.py broken, a declared function without a solution cell, a hidden test
    without a declared function. Found here, before any student, not as a class of zeros. The
    sentence names the instructor's folder, `original`, of which `source` is the grading copy."""
    import nbformat

    from ..preprocessors import probed_grade_id
    a = reference.of(source)
    try:
        a.grading, a.hidden_cases, a.load()
        for path in sorted(Path(source).glob("*.ipynb")):
            for grade_id in filter(None, map(probed_grade_id, nbformat.read(path, as_version=4).cells)):
                hidden.request(a, grade_id, hidden.FIXED)  # what each probed test cell will ask of the grader
    except Exception as error:  # the instructor's files: whatever is wrong, one sentence
        first = (str(error).strip().splitlines() or [""])[0]
        first = first.replace(str(Path(source).resolve()), str(original or source))[:300]
        raise SetupError(f"the assignment {a.name} cannot be graded: {type(error).__name__}: {first}") from None


def main(args):
    try:
        sources = chosen_sources(args.assignment, args.source)
        options = dict(workers=args.workers, timeout=args.timeout, db_url=args.db, scheduler=args.scheduler,
                       unsafe=args.unsafe_no_sandbox, due=args.due, late_policy=args.late_policy,
                       roster_path=args.roster, feedback=args.feedback)
        if len(sources) == 1 and course_layout(args.out):  # one assignment of a course's grading
            grade(args.submissions, Path(args.out) / sources[0].name, source=sources[0], **options)
            write_course(Path(args.out).resolve())
        elif len(sources) == 1:
            grade(args.submissions, args.out, source=sources[0], **options)
        else:
            grade_course(args.submissions, args.out, sources, **options)
    except (SetupError, collect.CollectError, cluster.ClusterError, roster.RosterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: graded submissions are saved; run the same command again to finish.", file=sys.stderr)
        return 130
    return 0


def report_main(args):
    """`python -m autograder report OUT`: the outputs again from the gradebook, without grading
    (after grades or comments were given in formgrader)."""
    out = Path(args.out).resolve()
    try:
        for one, db_url in graded_outs(out, args.db):
            writable(one)
            write_reports(one, one / "course", db_url)
        if course_layout(out):  # a course's OUT: each assignment's files, then the course's
            write_course(out)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def feedback_main(args):
    """`python -m autograder feedback OUT`: every graded student's feedback pages, made now from the
    gradebook (after `grade --feedback later`, or to show grades given by hand in formgrader), with
    nbgrader's generate_feedback, as formgrader's button does for one student."""
    out = Path(args.out).resolve()
    try:
        for one, db_url in graded_outs(out, args.db):
            course = one / "course"
            students = gradebook.students(db_url, assignment_in(course / "source"))
            failed = make_pages(course, db_url, students, args.workers or os.cpu_count() or 1)
            print(f"Wrote the feedback pages of {len(students) - len(failed)} students in {one / 'feedback'}"
                  + (f"; nbgrader failed for {', '.join(failed)} (see its log above)" if failed else "") + ".")
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def make_pages(course, db_url, students, workers):
    """nbgrader's generate_feedback for each of `students`, `workers` at a time; returns the ids of
    those it failed for."""
    with futures.ProcessPoolExecutor(max_workers=max(1, min(workers, len(students) or 1))) as pool:
        made = list(pool.map(_generate_locked, [course] * len(students), [db_url] * len(students), students))
    for result in made:
        if not result["success"]:
            print(result.get("log", "") + result.get("error", ""), file=sys.stderr)
    return [student for student, result in zip(students, made) if not result["success"]]


def _generate_locked(course, db_url, student):
    """feedback.generate, while no other grader writes the student's files (course: OUT/course).
    Made from the notebooks the student's state was saved with, the pages pay what the state owes
    (a service killed between a student's score and pages; a service running makes them itself,
    under the same lock, unless they are made already)."""
    out = Path(course).parent
    with student_files_locked(out, student):
        made = feedback.generate(course, db_url, student)
        if made["success"]:
            _pages_made(out, student)
        return made


def graded_outs(out, db=None):
    """[(one assignment's OUT, its gradebook URL)] of an earlier `grade`'s OUT: OUT itself, or each
    OUT/<assignment>/ of a course's; SetupError when there is none, or a gradebook is missing."""
    outs = [out] if (out / "course" / "source").is_dir() else [out / name for name in course_layout(out)]
    if not outs:
        raise SetupError(f"{out} holds no graded class (no course/source/): pass the --out folder of an "
                         f"earlier `grade`.")
    found = []
    for one in outs:
        db_url = db or f"sqlite:///{one / 'course' / 'gradebook.db'}"
        if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
            raise SetupError(f"{one} has no gradebook (course/gradebook.db): pass --db if it is elsewhere.")
        check_database(db_url)
        found.append((one, db_url))
    return found

