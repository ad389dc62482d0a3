"""`python -m autograder gradescope --out autograder.zip`: the grader as a Gradescope autograder.

Gradescope's autograder specification: a zip with `setup.sh` (run once on its Ubuntu image to
install what grading needs) and `run_autograder` (run for each submission, in /autograder, with
the zip's contents in /autograder/source and the student's upload in /autograder/submission)
that writes /autograder/results/results.json. Here run_autograder runs `python -m autograder
grade`'s own pipeline on the one student (autograder/gradescope/run.py): the same sandbox, the
same scores, and the same results JSON as `grade` writes to OUT/results/. The zip carries a key
of its own (hidden_inputs.key), made when it is built, that each submission's hidden inputs are
drawn with: students see neither the zip nor the key.
"""

import io
import json
import os
import secrets
import stat
import sys
import zipfile
from pathlib import Path

from ..course import CELL_TIMEOUT, ROOT

# Gradescope's visibility of each test's result (its score and message): the hidden tests'
# verdicts are shown once the due date has passed, unless the instructor chooses otherwise
# (--test-visibility). The top level (the submission's score and summary) is visible;
# run_autograder's stdout (the grader's log) is for instructors only. Defined here, not in
# grade/report.py, so that building the parser does not import nbgrader.
TEST_VISIBILITY = "after_due_date"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "results.schema.json"
# Pins of requirements.txt that grading never imports (the tests' and the browser's tools): left
# out of the image, so that setup.sh installs less. Everything else is installed at its pin.
NOT_FOR_GRADING = {"coverage", "execnet", "iniconfig", "nbval", "playwright", "pluggy", "pytest", "pytest-xdist",
                   "psycopg", "psycopg-binary", "greenlet"}


def add_parser(verbs):
    parser = verbs.add_parser("gradescope", help="build a Gradescope autograder zip (setup.sh, run_autograder)")
    parser.add_argument("--out", required=True, help="the zip to write, e.g. autograder.zip")
    parser.add_argument("--assignment", default=None,
                        help="the assignment, a folder of source/ (default: the course's only one)")
    parser.add_argument("--test-visibility", default=TEST_VISIBILITY, choices=VISIBILITIES,
                        help=f"when students see each test's result on Gradescope (default: {TEST_VISIBILITY})")
    parser.add_argument("--late-policy", default="none", metavar="POLICY",
                        help="none (default), zero, or 10%%/day, 2%%/hour: applied to Gradescope's submission time "
                             "against its due date")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds a cell may run")
    parser.add_argument("--source", default=None, metavar="FOLDER", help="the assignment's source notebooks")
    return parser


def grading_requirements(text):
    """requirements.txt without the pins grading never imports."""
    keep = []
    for line in text.splitlines():
        name = line.split("==")[0].strip().lower().replace("_", "-")
        if line.strip() and not line.startswith("#") and name not in NOT_FOR_GRADING:
            keep.append(line.strip())
    return "\n".join(keep) + "\n"


def _add(archive, name, data, executable=False):
    from .. import hidden
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o600 if name == hidden.KEY else 0o644  # the key: its owner's alone
    info.external_attr = (mode | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _folder_files(source):
    """{name in the zip: bytes} of an assignment's source folder, source/<assignment>/..."""
    files = {}
    for folder, dirs, names in sorted(os.walk(source, followlinks=True)):  # images/ is a link
        dirs[:] = [d for d in sorted(dirs) if d not in ("__pycache__", ".ipynb_checkpoints")]
        for name in sorted(names):
            path = Path(folder) / name
            if path.suffix not in (".pyc", ".pyo"):
                files[f"source/{source.name}/{path.relative_to(source)}"] = path.read_bytes()
    return files


def build(out, source, test_visibility=TEST_VISIBILITY, late_policy="none", timeout=CELL_TIMEOUT):
    """Write the autograder zip of the assignment in `source` (its source folder) to `out`; returns
    the names it holds. Files are read through links (source/ links rnn_utils.py and images/), so
    the zip holds no link."""
    from .. import hidden, reference  # not to build the parser: `submit` starts without numpy
    source = Path(source)
    files = {}
    for path in sorted((ROOT / "autograder").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            files[str(path.relative_to(ROOT))] = path.read_bytes()
    # The course's own rnn_utils.py and the modules it loads from beside itself: the grader's for an
    # assignment without an rnn_utils.py of its own (autograder/reference.py).
    for name in ("rnn_utils.py", "rnn_checks.py", "rnn_relations.py"):
        files[name] = (ROOT / name).read_bytes()
    # The assignment, and the earlier ones whose functions its exercises call (their reference).
    for folder in [source] + sorted(reference.of(source).earlier_folders.values()):
        files.update(_folder_files(folder))
    for path in sorted((ROOT / "images").glob("*.png")):
        files[f"images/{path.name}"] = path.read_bytes()
    files["requirements.txt"] = grading_requirements((ROOT / "requirements.txt").read_text()).encode()
    # The course's key for this zip, made afresh: run_autograder draws every submission's hidden
    # inputs with it (hidden.course_key), so that grading a submission again gives the same ones.
    files[hidden.KEY] = secrets.token_bytes(hidden.KEY_BYTES)
    files["gradescope.json"] = json.dumps({"assignment": source.name, "test_visibility": test_visibility,
                                           "late_policy": late_policy, "timeout": timeout}, indent=1).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _add(archive, "setup.sh", (HERE / "setup.sh").read_bytes(), executable=True)
        _add(archive, "run_autograder", (HERE / "run_autograder").read_bytes(), executable=True)
        for name, data in files.items():
            _add(archive, name, data)
    Path(out).write_bytes(buffer.getvalue())
    return ["setup.sh", "run_autograder", *files]


def main(args):
    from .. import late, reference
    names = reference.assignments()
    if args.source:
        source = Path(args.source)
    elif args.assignment in names or (args.assignment is None and len(names) == 1):
        source = ROOT / "source" / (args.assignment or names[0])
    else:
        what = f"no assignment {args.assignment!r}" if args.assignment else "several assignments"
        print(f"error: the course has {what} (source/ holds {', '.join(names) or 'none'}): pass --assignment, "
              f"one of them.", file=sys.stderr)
        return 2
    try:
        late.parse(args.late_policy)
    except ValueError as error:
        print(f"error: {error}.", file=sys.stderr)
        return 2
    if not any(source.glob("*.ipynb")):
        print(f"error: no source notebooks in {args.source}: pass the assignment's source folder.", file=sys.stderr)
        return 2
    from ..grade import SetupError, check_assignment
    try:
        check_assignment(source)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        names = build(args.out, source, args.test_visibility, args.late_policy, args.timeout)
    except OSError as error:
        print(f"error: cannot write {args.out}: {error.strerror or error}.", file=sys.stderr)
        return 2
    print(f"Wrote {args.out} ({len(names)} files): upload it as the assignment's autograder on Gradescope.")
    return 0
