"""run_autograder's work, inside Gradescope's image: grade /autograder/submission with `grade`'s
own pipeline (collect, the sandboxed nbgrader workers, the gradebook, the report) into a
temporary OUT, and copy that student's results JSON to /autograder/results/results.json.

/autograder/submission_metadata.json (Gradescope's) gives the student (name, email, sid), the
submission time and the assignment's due date; both are untrusted in size only (Gradescope writes
the file), and read within a limit.
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from nbgrader.utils import parse_utc

from .. import collect, hidden
from ..course import CELL_TIMEOUT, ROOT, assignment_in

METADATA_LIMIT = 16 * 2**20   # bytes; a long history of previous submissions stays far under


def read_metadata(path):
    """Gradescope's submission_metadata.json as a dict ({} when absent or unreadable)."""
    try:
        with open(path, "rb") as f:
            data = f.read(METADATA_LIMIT + 1)
        found = json.loads(data) if len(data) <= METADATA_LIMIT else {}
    except (OSError, ValueError, RecursionError):
        return {}
    return found if isinstance(found, dict) else {}


def who(metadata):
    """(student id, timestamp, due date text) from Gradescope's metadata."""
    users = metadata.get("users") if isinstance(metadata.get("users"), list) else []
    first = users[0] if users and isinstance(users[0], dict) else {}
    student = next((str(first[key]) for key in ("sid", "email", "name", "id") if first.get(key)), "student")
    assignment = metadata.get("assignment") if isinstance(metadata.get("assignment"), dict) else {}
    return student, metadata.get("created_at"), assignment.get("due_date")


def _when(text):
    """Gradescope's due date as an aware datetime; None (no late penalty) when absent or unreadable."""
    import datetime
    from dateutil import parser as dates
    try:
        when = dates.parse(str(text)) if text else None
    except (ValueError, OverflowError):
        print(f"Gradescope's due date {str(text)[:60]!r} cannot be read: no late penalty is applied.")
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def prepare(settings):
    """setup.sh's last step: the assignment registered once, in the user's cache of templates
    (grade.registered_cache), as each run would register it. The image keeps it, and no
    submission's run makes nbgrader generate_assignment (2.4 s of each run here)."""
    from ..grade import copy_source, register_assignment
    assignment = settings.get("assignment") or assignment_in(ROOT / "source")
    out = Path(tempfile.mkdtemp(prefix="gradescope-prepare-"))
    try:
        course = copy_source(out, ROOT / "source" / assignment)
        register_assignment(course, f"sqlite:///{course / 'gradebook.db'}", out / "template.db",
                            settings.get("timeout", CELL_TIMEOUT))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"Registered {assignment} for every submission's run.")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope.run", description=__doc__)
    parser.add_argument("--root", default="/autograder", help="Gradescope's folder (default: /autograder)")
    parser.add_argument("--prepare", action="store_true", help="register the assignment once (setup.sh does)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    from ..grade import SetupError, grade
    settings = json.loads((ROOT / "gradescope.json").read_text()) if (ROOT / "gradescope.json").is_file() else {}
    if args.prepare:
        return prepare(settings)
    student, created_at, due = who(read_metadata(root / "submission_metadata.json"))
    try:
        parse_utc(str(created_at))
    except (ValueError, OverflowError):
        created_at = None  # graded without a submission time: never counted late
    # The one it grades (the zip may hold earlier assignments too, whose reference it calls).
    assignment = settings.get("assignment") or assignment_in(ROOT / "source")
    notebooks = collect.cell_ids(ROOT / "source" / assignment)
    try:
        key = (ROOT / hidden.KEY).read_bytes()  # the zip's: the same draw for a submission graded again
    except OSError:
        print(f"error: the autograder zip has no {hidden.KEY}: build it again with `python -m autograder "
              f"gradescope`.", file=sys.stderr)
        return 2
    try:
        uploads = collect.collect_uploads(root / "submission", assignment, notebooks, student, created_at)
    except collect.CollectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        grade(None, out, workers=1, timeout=settings.get("timeout", CELL_TIMEOUT), uploads=uploads,
              source=ROOT / "source" / assignment,
              due=_when(due), late_policy=settings.get("late_policy", "none"),
              test_visibility=settings.get("test_visibility", "after_due_date"), key=key,
              feedback="later", figure=False)  # OUT is thrown away: only the results JSON is kept
        [submission] = uploads.submissions
        results = (out / "results" / f"{submission.student_id}.json").read_text()
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(out, ignore_errors=True)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(results)
    print(f"Wrote {root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
