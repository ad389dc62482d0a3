"""Collect: turn SUBMISSIONS (a folder or a .zip) into one Submission per student.

Layouts understood, inside a folder or a zip (the zip may wrap them in one top folder):
- nbgrader's submitted layout: <student_id>/<assignment>/<notebook>.ipynb (+ optional timestamp.txt);
- the same without the assignment level: <student_id>/<notebook>.ipynb;
- an LMS's flat download: <student_id>_<anything>_<notebook>.ipynb, where <notebook> is one of the
  assignment's notebook names (what `nbgrader zip_collect` untangles with a regular expression).
Nothing here judges a notebook: an unreadable file is still collected, and grading says what is wrong.
"""

import hashlib
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import parse_utc


class CollectError(ValueError):
    """SUBMISSIONS cannot be read at all (the instructor's side)."""


@dataclass
class Submission:
    student_id: str
    files: dict                      # relative path -> bytes (notebooks and anything else submitted)
    timestamp: str | None = None     # as written in timestamp.txt, if valid
    notes: list = field(default_factory=list)

    def digest(self):
        """Identifies the submission's content: a changed file means a new digest."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        h.update(str(self.timestamp).encode())
        return h.hexdigest()


STUDENT_ID = re.compile(r"^[A-Za-z0-9][\w.@+-]*$")
SKIPPED = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}


def _read_folder(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not SKIPPED & set(p.relative_to(folder).parts)}


def _timestamp(files, notes):
    raw = files.pop("timestamp.txt", None)
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace").strip()
    try:
        parse_utc(text)
        return text
    except (ValueError, OverflowError):
        notes.append(f"timestamp.txt ignored: {text[:40]!r} is not a date")
        return None


def _student_folders(folder, assignment):
    """Submissions in the (possibly assignment-less) submitted layout."""
    found = []
    for student in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIPPED):
        inner = student / assignment
        if inner.is_dir():
            found.append((student.name, inner))
        elif any(student.glob("*.ipynb")):
            found.append((student.name, student))
    return found


def _flat_files(folder, notebooks):
    """Submissions in an LMS's flat layout, grouped by student."""
    names = "|".join(re.escape(n) for n in sorted(notebooks, key=len, reverse=True))
    pattern = re.compile(rf"^(?P<student>[^_]+)_(?:.*_)?(?P<notebook>{names})(?:-\d+)?\.ipynb$")
    students = {}
    for path in sorted(folder.glob("*.ipynb")):
        match = pattern.match(path.name)
        if match:
            students.setdefault(match["student"], {})[match["notebook"] + ".ipynb"] = path.read_bytes()
    return students


def _locate(folder, assignment, notebooks):
    """Descend through single wrapping folders (a zip's top folder, 'submitted/') to the layout."""
    for _ in range(3):
        if _student_folders(folder, assignment) or _flat_files(folder, notebooks):
            return folder
        children = [p for p in folder.iterdir() if p.name not in SKIPPED]
        if len(children) == 1 and children[0].is_dir():
            folder = children[0]
        else:
            break
    return folder


def collect(path, assignment, notebooks):
    """All submissions in `path` (folder or .zip), sorted by student id."""
    path = Path(path)
    if not path.exists():
        raise CollectError(f"{path} does not exist: give a folder of submissions or a .zip of one.")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise CollectError(f"{path} is neither a folder nor a .zip file.")
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with zipfile.ZipFile(path) as archive:
                    archive.extractall(tmp)
            except (zipfile.BadZipFile, OSError) as error:
                raise CollectError(f"{path} cannot be unpacked: {error}") from error
            return collect(Path(tmp), assignment, notebooks)
    folder = _locate(path, assignment, notebooks)
    submissions = {}
    for student_id, inner in _student_folders(folder, assignment):
        if not STUDENT_ID.match(student_id):
            continue
        notes = []
        files = _read_folder(inner)
        submissions[student_id] = Submission(student_id, files, _timestamp(files, notes), notes)
    for student_id, files in _flat_files(folder, notebooks).items():
        if STUDENT_ID.match(student_id) and student_id not in submissions:
            submissions[student_id] = Submission(student_id, files)
    if not submissions:
        raise CollectError(
            f"no submissions found in {path}: expected <student_id>/{assignment}/<notebook>.ipynb "
            f"(nbgrader's submitted layout), <student_id>/<notebook>.ipynb, or <student_id>_..._<notebook>.ipynb.")
    return [submissions[s] for s in sorted(submissions)]


def write(submission, folder):
    """Lay a submission out as files under `folder` (emptied first)."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in submission.files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if submission.timestamp:
        (folder / "timestamp.txt").write_text(submission.timestamp)
