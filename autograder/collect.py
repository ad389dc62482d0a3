"""Collect: turn SUBMISSIONS (a folder or a .zip) into one Submission per student, and account
for every file in it: each one is either used by exactly one student or set aside with a reason
(Collection.entries, written as collection.csv).

Layouts understood, inside a folder or a zip, either of them wrapped in single top folders:
- nbgrader's submitted layout: <student>/<assignment>/<notebook>.ipynb (+ optional timestamp.txt);
- the same without the assignment level: <student>/<notebook>.ipynb;
- a student folder whose single subfolder has another name (<student>/hw_rnn/...): used, and noted;
- Canvas: <lastfirst>_[LATE_]<user id>_<attachment id>_<file name as uploaded> (LATE_ is kept);
- Gradescope's export: submission_metadata.yml (each submission's submitters: name, sid, email,
  and its time) beside one submission_<id>/ folder per submission;
- Moodle: <Full Name>_<id>_assignsubmission_file_/<file name as uploaded> (or without the folder);
- Blackboard: <Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file name as uploaded>;
- any flat download: <student>_<anything>_<notebook>.ipynb.
A .zip a student uploaded to an LMS is opened as that student's files (one level deep).
Notebook names are recognised with the browser's " (1)", Canvas's "-1" resubmission suffixes and
without their leading number; when a student has several files for one notebook, the latest by
the LMS's own marks is used.

Nothing is extracted to disk: zip members are read into memory, within limits. Symbolic links are
never followed. Nothing here judges a notebook: an unreadable one is still used, and grading says
what is wrong with it.
"""

import csv
import hashlib
import io
import logging
import os
import re
import shutil
import stat
import unicodedata
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

from . import atomic, spreadsheet
from nbgrader.utils import parse_utc

MEMBER_LIMIT = 64 * 2**20      # bytes of one file, in a zip or a folder
ARCHIVE_LIMIT = 2**30          # bytes read out of zips in all, nested ones included
MEMBERS_LIMIT = 10_000         # files in one zip


class CollectError(ValueError):
    """SUBMISSIONS cannot be read at all (the instructor's side)."""


class NoSubmissions(CollectError):
    """The place holds no submission of the assignment (it may hold another assignment's)."""


@dataclass
class Submission:
    student_id: str                  # a safe nbgrader id, derived from submitted_as
    files: dict                      # relative path -> bytes (notebooks and anything else submitted)
    timestamp: str | None = None     # as written in timestamp.txt, if valid
    notes: list = field(default_factory=list)
    submitted_as: str = ""           # the id exactly as the LMS file name or folder gave it
    lms_user_id: str | None = None   # the LMS's own user id, when the file name carries one
    set_aside: list = field(default_factory=list)   # (path, reason) of this student's files not used
    late_by_lms: bool = False        # the LMS marked the file used late (Canvas's LATE_), time unknown
    name: str | None = None          # as Gradescope's export gives them
    email: str | None = None

    def __post_init__(self):
        self.submitted_as = self.submitted_as or self.student_id

    def digest(self):
        """Identifies the submission's content: a changed file means a new digest."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        h.update(str(self.timestamp).encode())
        return h.hexdigest()


@dataclass
class Entry:
    """One file found under SUBMISSIONS, and what became of it."""
    path: str              # relative to SUBMISSIONS; inside a zip: archive.zip!top/file.ipynb
    student_id: str        # "" when the file is no graded student's
    submitted_as: str
    used_as: str           # the relative path it was graded as; "" when set aside
    reason: str            # why it was set aside; "" when used

    def category(self):
        """The reason without its details (what counts() counts)."""
        return self.reason.split(" (")[0] if self.reason else "used"


@dataclass
class Collection:
    submissions: list      # Submission, sorted by student_id
    entries: list          # Entry, one per file found, sorted by path

    # Callers written for the plain list collect() used to return keep working.
    def __iter__(self):
        return iter(self.submissions)

    def __len__(self):
        return len(self.submissions)

    def owners(self):
        """{(submitted_as, lms_user_id)} of its students: what collect's `owners` takes."""
        return {(submission.submitted_as, submission.lms_user_id) for submission in self.submissions}

    def counts(self):
        """{"used": 40, "superseded by a later resubmission": 2, ...}"""
        return dict(Counter(entry.category() for entry in self.entries))

    def summary(self):
        """One line, e.g. "52 files: 48 graded, 2 superseded by a later resubmission, 2 not a notebook..."."""
        counts = self.counts()
        parts = [f"{counts.pop('used', 0)} graded"]
        parts += [f"{n} {category}" for category, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
        total = len(self.entries)
        return f"{total} file{'' if total == 1 else 's'}: " + ", ".join(parts)

    def write_csv(self, path):
        """collection.csv: one row per file found. `path` is the file, or a folder to write it in."""
        path = Path(path)
        if path.is_dir():
            path = path / "collection.csv"
        with atomic.replacing(path) as new, open(new, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["path", "student_id", "submitted_as", "used_as", "reason"])
            for e in self.entries:
                writer.writerow(spreadsheet.row([e.path, e.student_id, e.submitted_as, e.used_as, e.reason]))
        return path


# Reading: every file under SUBMISSIONS, as a _File whose bytes are read only when it may be used.
# nbgrader's ExtractorPlugin (zip_collect's first step) is not used: it unpacks every archive to disk,
# nested ones to any depth, with no size limit, and reads Info-ZIP's UTF-8 names as cp437.

@dataclass
class _File:
    path: str                        # as in collection.csv
    parts: tuple                     # where layouts see it: folders, and a zip's members under its top
    size: int = 0                    # as the folder or the zip declares it
    read: Callable | None = None     # read(n): at most n of its bytes
    in_archive: bool = False
    reason: str = ""                 # why it cannot be used, whatever the layout
    data: bytes | None = None


class _Budget:
    """What may still be read out of zips during one collect()."""
    def __init__(self):
        self.left = ARCHIVE_LIMIT


class _TooMany(Exception):
    pass


# Files that tools leave beside a submission; set aside, and still accounted for.
_LITTER = {"__MACOSX": "macOS metadata", ".DS_Store": "macOS metadata", "Thumbs.db": "Windows metadata",
           "desktop.ini": "Windows metadata", ".ipynb_checkpoints": "a Jupyter checkpoint copy",
           "__pycache__": "Python's bytecode cache"}


def _litter(parts):
    for part in parts:
        if part in _LITTER:
            return _LITTER[part]
    return "macOS metadata" if parts[-1].startswith("._") else ""   # AppleDouble resource forks


def _read_at_most(path):
    def read(n):
        # O_NOFOLLOW: a file turned into a link after the folder was listed is not followed either.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
            chunks, left = [], n
            while left > 0:   # in pieces: f.read(n) allocates all n bytes first, whatever the file's size
                chunk = f.read(min(left, 2 ** 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
    return read


def _read_folder(folder, shown="", parts=(), unreadable=False):
    """Every file under `folder`; a symbolic link is listed, never followed."""
    files = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        return [_File(shown.rstrip("/"), parts, reason=f"cannot be read ({error.strerror})")]
    for entry in entries:
        # A name that is not UTF-8 is kept visible (as \x.. escapes), and nothing under it is used.
        name = os.fsencode(entry.name).decode("utf-8", "backslashreplace")
        path, here, bad_name = shown + name, parts + (name,), unreadable or name != entry.name
        if entry.is_symlink():
            files.append(_File(path, here, reason="a symbolic link"))
        elif entry.is_dir(follow_symlinks=False):
            files.extend(_read_folder(entry.path, path + "/", here, bad_name))
        else:
            reason = _litter(here) or ("unreadable file name" if bad_name else "")
            if not reason and not entry.is_file(follow_symlinks=False):
                reason = "not a regular file"
            size = 0 if reason else entry.stat(follow_symlinks=False).st_size
            files.append(_File(path, here, size, _read_at_most(entry.path), reason=reason))
    return files


def _member_name(info):
    """A member's name as its maker meant it. Info-ZIP (Linux's `zip`) and many other tools store
    UTF-8 names without the flag bit that says so, and zipfile then reads them as cp437."""
    name = info.orig_filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except UnicodeError:
            pass
    return name.replace("\\", "/")   # some Windows tools separate folders with backslashes


def _member_problem(info, name, parts):
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if any(ord(c) < 32 for c in name):
        return "unreadable file name"
    if name.startswith("/") or ".." in parts:
        return "an unsafe path in the archive"
    if info.flag_bits & 0x1:
        return "encrypted"
    return ""


def _zip_files(archive, shown):
    """The files in an open zip, to be read from it in memory (nothing is extracted)."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > MEMBERS_LIMIT:
        raise _TooMany(len(infos))
    files, seen = [], Counter()
    for info in infos:
        name = _member_name(info)
        seen[name] += 1
        path = f"{shown}!{name}" + (f" [copy {seen[name]}]" if seen[name] > 1 else "")
        parts = tuple(part for part in name.split("/") if part not in ("", "."))
        if not parts:
            parts = (name,)
        reason = _litter(parts) or _member_problem(info, name, parts)

        def read(n, info=info):
            with archive.open(info) as member:
                return member.read(n)
        files.append(_File(path, parts, info.file_size, read, in_archive=True, reason=reason))
    return files


def _size(n):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def _load(file, budget):
    """Read `file` into memory within the limits, or set the reason it cannot be."""
    if file.reason or file.data is not None:
        return
    too_large = f"too large (over {_size(MEMBER_LIMIT)})"
    whole_archive = f"too large (the archive holds over {_size(ARCHIVE_LIMIT)})"
    if file.size > MEMBER_LIMIT:
        file.reason = too_large
        return
    if file.in_archive and file.size > budget.left:
        file.reason = whole_archive
        return
    try:
        data = file.read(MEMBER_LIMIT + 1)   # a member that lies about its size stops here too
    except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as error:
        file.reason = f"cannot be read ({error})"
        return
    if len(data) > MEMBER_LIMIT:
        file.reason = too_large
    elif file.in_archive and len(data) > budget.left:
        file.reason = whole_archive
    else:
        budget.left -= len(data) if file.in_archive else 0
        file.data = data


# Names: what the LMS put in a file's name, the assignment's notebooks, safe student ids.

class LmsFileName(FileNameCollectorPlugin):
    """nbgrader zip_collect's file-name plugin, with one LMS's named_regexp: student_id, file_id
    (the file's name as the student uploaded it) and the marks the LMS adds (user_id, attachment,
    timestamp)."""

    def collect(self, file_name):
        # zip_collect's plugin passes .ipynb files only; here a student's .zip is opened, and any
        # other file is still attributed to its student and accounted for.
        return self._match(file_name)


_QUIET = logging.getLogger(__name__ + ".names")
_QUIET.setLevel(logging.ERROR)   # the plugin warns on every name that does not match: most do not

MOODLE = LmsFileName(log=_QUIET, named_regexp=(
    r"(?P<student_id>.+)_(?P<user_id>\d+)_assignsubmission_[a-z]+_(?P<file_id>.*)$"))
BLACKBOARD = LmsFileName(log=_QUIET, named_regexp=(
    r"(?P<assignment>.+)_(?P<student_id>[^_]+)_attempt_(?P<timestamp>\d{4}(?:-\d\d){5})(?:_(?P<file_id>.+)|\.txt)$"))
CANVAS = LmsFileName(log=_QUIET, named_regexp=(
    r"(?P<student_id>.+?)_(?P<late>LATE_)?(?P<user_id>\d+)_(?P<attachment>\d+)_(?P<file_id>.+)$"))
ANY_FLAT = LmsFileName(log=_QUIET, named_regexp=r"(?P<student_id>[^_]+)_(?P<file_id>.+)$")


def _lms_order(found):
    """How late the LMS says a file came in, from the marks it put in the name."""
    if found.get("attachment"):
        return (int(found["attachment"]),)          # Canvas numbers attachments as they arrive
    if found.get("timestamp"):
        return (int(re.sub(r"\D", "", found["timestamp"])),)
    return (0,)


def cell_ids(folder):
    """{notebook name: the nbgrader grade ids of its cells that no other notebook of `folder` has}:
    how a notebook saved under another name is recognised."""
    ids = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        ids[path.stem] = _grade_ids(path.read_bytes())
    common = Counter(i for found in ids.values() for i in found)
    return {name: {i for i in found if common[i] == 1} for name, found in ids.items()}


# A cell's grade id in a notebook's JSON text: found in a student's file without parsing it (a
# hostile file parsed costs many times its size in memory).
GRADE_ID = re.compile(rb'"grade_id"\s*:\s*"([^"\\]{1,100})"')


def _grade_ids(data):
    """The nbgrader grade ids in a notebook's bytes, found without parsing them."""
    return {match.group(1).decode("utf-8", "replace") for match in GRADE_ID.finditer(data or b"")}


class _Notebooks:
    """The assignment's notebooks, as file names may spell them (or, given their cells' grade
    ids, as their cells say)."""

    def __init__(self, notebooks):
        self.ids = notebooks if isinstance(notebooks, dict) else {}
        self.spellings = {}
        for notebook in notebooks:
            self.spellings[notebook.lower()] = notebook
            bare = re.sub(r"^\d+[_ -]*", "", notebook).lower()   # rnn_cell_forward for 1_rnn_cell_forward
            self.spellings.setdefault(bare or notebook.lower(), notebook)
        names = "|".join(re.escape(s) for s in sorted(self.spellings, key=len, reverse=True))
        # The shortest prefix first, so the longest spelling wins; then Canvas's -N, the browser's (N).
        self.pattern = re.compile(rf"(?P<prefix>.*?[_ -])??(?P<name>{names})"
                                  rf"(?:-(?P<resubmission>\d+))?(?: ?\((?P<copy>\d+)\))?\.ipynb", re.I)
        self.exact = {f"{notebook}.ipynb" for notebook in notebooks}

    def match(self, file_name, prefixed=True):
        """(notebook, (resubmission, copy)) for a file name of one of the notebooks, else None."""
        found = self.pattern.fullmatch(file_name)
        if not found or (found["prefix"] and not prefixed):
            return None
        return self.spellings[found["name"].lower()], (int(found["resubmission"] or 0), int(found["copy"] or 0))

    def by_cells(self, data):
        """(notebook, how many of its own cells) when `data` (a student's file, not parsed: a
        bounded search of its bytes) holds at least half of one notebook's own cells, and more
        of them than of any other notebook's; else None. A scratch file with one copied cell
        is not that notebook."""
        found = _grade_ids(data)
        counts = sorted(((len(found & ids), name) for name, ids in self.ids.items() if ids), reverse=True)
        if not counts or (len(counts) > 1 and counts[1][0] == counts[0][0]):
            return None
        count, name = counts[0]
        return (name, count) if count and 2 * count >= len(self.ids[name]) else None

    def lms_name(self, file_name):
        """What an LMS's download name says (student_id, file_id, ...), else None."""
        for plugin in (MOODLE, BLACKBOARD, CANVAS):
            found = plugin.collect(file_name)
            if found:
                return found
        if not self.match(file_name, prefixed=False):   # 1_rnn_cell_forward.ipynb is no student "1"'s
            found = ANY_FLAT.collect(file_name)
            if found and self.match(found["file_id"]):
                return found
        return None


def safe_id(submitted_as):
    """An nbgrader student id for `submitted_as`: accents dropped, anything but letters, digits
    and ._- replaced by _, no leading . _ or -. An id that is already safe is unchanged."""
    text = "".join(c for c in unicodedata.normalize("NFKD", submitted_as) if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip("._-")


def _student_ids(owners):
    """{(submitted_as, lms_user_id): student_id}, distinct. Ids already safe are taken first, so
    that they never change; two students whose ids would be the same get -2, -3, ... in a fixed order."""
    def order(owner):
        submitted_as, user_id = owner
        return safe_id(submitted_as) != submitted_as, submitted_as, (user_id or "").zfill(20)
    ids, taken = {}, set()
    for owner in sorted(owners, key=order):
        submitted_as, user_id = owner
        base = safe_id(submitted_as) or "student" + (f"_{safe_id(user_id)}" if user_id else "")
        student_id, n = base, 2
        while student_id in taken:
            student_id, n = f"{base}-{n}", n + 1
        taken.add(student_id)
        ids[owner] = student_id
    return ids


# Layouts: where the class is, and whose each file is.

PASS = "pass the folder that holds one folder per student (nbgrader's submitted/) or an LMS download."
_NOT_A_CLASS = {"release": "the assignment as released to students",
                "source": "the assignment's source, with its solutions"}


def _contents(files, level):
    """What is directly in the folder `level`: its files by name, and its folders with the files
    under each. Files already set aside (litter, links) do not count."""
    loose, folders = {}, defaultdict(list)
    n = len(level)
    for file in files:
        if not file.reason and len(file.parts) > n and file.parts[:n] == level:
            if len(file.parts) == n + 1:
                loose[file.parts[n]] = file
            else:
                folders[file.parts[n]].append(file)
    return loose, folders


class _Place:
    """Where a folder `level` of SUBMISSIONS is, for messages."""

    def __init__(self, top, level, files):
        chain = (top.resolve().parent.name, top.resolve().name) if top.is_dir() else ("", "")
        chain += level
        self.name, self.parent = chain[-1], chain[-2]
        if top.is_dir():
            self.shown = f"{top}/" + "".join(f"{part}/" for part in level)
            self.below_grades = (top.resolve().parent / "grades.csv").exists()
        else:
            self.shown = f"{top}!{'/'.join(level)}/" if level else str(top)
            self.below_grades = False
        if level:
            self.below_grades = "grades.csv" in _contents(files, level[:-1])[0]


def _own_folder(files, folder, assignment, notebooks):
    """Whether `folder` is one student's: it holds the assignment's folder or notebooks named as
    they are (not an LMS's names), or it is named as Moodle names a student's folder."""
    loose, folders = _contents(files, folder)
    return bool(MOODLE.collect(folder[-1]) or assignment in folders
                or any(notebooks.match(name, prefixed=False) for name in loose))


def _refuse_wrong_folder(place, files, level, assignment, notebooks):
    """A folder that holds no class's submissions but is often passed for one: say what to pass."""
    loose, folders = _contents(files, level)
    if "grades.csv" in loose or {"course", "results"} <= folders.keys():
        raise CollectError(f"{place.shown} is the grader's output folder, not submissions: pass the folder "
                           f"or .zip of the students' submissions that was graded into it.")
    if {"nbgrader_config.py", "gradebook.db"} & loose.keys() or "source" in folders:
        if place.below_grades:
            raise CollectError(f"{place.shown} is the nbgrader course the grader wrote in its output folder, not "
                               f"submissions: pass the folder or .zip of the students' submissions instead.")
        raise CollectError(f"{place.shown} is an nbgrader course folder, not submissions: pass its submitted/ "
                           f"folder, which holds one folder per student, or an LMS download.")
    if place.name in _NOT_A_CLASS and assignment in folders:
        raise CollectError(f"{place.shown} is {_NOT_A_CLASS[place.name]}, not submissions: {PASS}")
    if assignment in folders and notebooks.exact & _contents(files, level + (assignment,))[0].keys():
        raise CollectError(f"{place.shown} is one student's folder (it holds {assignment}/), not a class's "
                           f"submissions: {PASS}")
    own_notebooks = sorted(notebooks.exact & loose.keys())
    if own_notebooks and not any(notebooks.lms_name(name) for name in loose) \
            and not any(_own_folder(files, level + (name,), assignment, notebooks) for name in folders):
        if place.name == assignment and place.parent in _NOT_A_CLASS:
            raise CollectError(f"{place.shown} is {_NOT_A_CLASS[place.parent]}, not submissions: {PASS}")
        what = "one assignment folder" if place.name == assignment else "one student's folder"
        raise CollectError(f"{place.shown} is {what} (it holds {own_notebooks[0]} itself), "
                           f"not a class's submissions: {PASS}")


def _class_level(top, files, assignment, notebooks):
    """The folder that holds the class (one folder or file per student), through wrapping folders."""
    level = ()
    while True:
        _refuse_wrong_folder(_Place(top, level, files), files, level, assignment, notebooks)
        loose, folders = _contents(files, level)
        if loose or len(folders) != 1:
            return level
        [child] = folders
        if _own_folder(files, level + (child,), assignment, notebooks):
            if child in _NOT_A_CLASS:   # release/ or source/ zipped, or in a folder of its own
                _refuse_wrong_folder(_Place(top, level + (child,), files), files, level + (child,), assignment,
                                     notebooks)
            return level   # a class of one student, not a wrapping folder
        level += (child,)


@dataclass
class _Placed:
    file: _File
    owner: tuple | None                # (submitted_as, lms_user_id) of the student it belongs to
    used_as: str = ""
    order: tuple = ()                  # the later submitted, the larger
    reason: str = ""


# Why a notebook the release gives students ungraded (the lab), handed in with the graded ones,
# is not used: nothing is wrong with it, and the student's status says nothing of it.
UNGRADED = "ungraded: the release's own, not part of the grade"
# Why a student's folder of another assignment of the course (nbgrader's <student>/<other>/) is not
# used here: it is that assignment's, graded with it; the student's status here says nothing of it.
OTHER_ASSIGNMENT = "another assignment of the course"


class _Placer:
    """Whose each file is, and what it is used as."""

    ungraded = frozenset()   # lower-case file names of the release's ungraded notebooks
    others = frozenset()     # the course's other assignments, whose folders a student's folder may hold

    def __init__(self, assignment, notebooks, budget, gradescope=None):
        self.assignment, self.notebooks, self.budget = assignment, notebooks, budget
        self.placed = []
        self.notes = defaultdict(list)
        self.renamed = {}              # path: (owner, note) of the notebooks found by their cells
        self.late = set()              # (owner, path) of files the LMS marked late
        self.gradescope = gradescope or {}   # submission folder: {submitted_as, name, email, timestamp}
        self.people = {}               # owner: (name, email, timestamp) from Gradescope's export
        self.owners = frozenset()      # the students of the course's other assignments (collect's `owners`)

    def use(self, file, owner, used_as, order=()):
        _load(file, self.budget)
        self.placed.append(_Placed(file, owner, "" if file.reason else used_as, order, file.reason))

    def set_aside(self, file, owner, reason):
        self.placed.append(_Placed(file, owner, reason=file.reason or reason))
        file.data = None   # what is not used is not kept (a hostile class's files could fill memory)

    def notebook(self, file, owner, file_name, order):
        if file_name.lower() in self.ungraded:
            return self.set_aside(file, owner, UNGRADED)
        found = self.notebooks.match(file_name)
        if found:
            return self.use(file, owner, f"{found[0]}.ipynb", order + found[1])
        if file_name.lower().endswith(".ipynb"):
            _load(file, self.budget)
            found = None if file.reason else self.notebooks.by_cells(file.data)
            if found:
                # A notebook renamed (or saved as a JupyterLab copy): graded, and said so. One under
                # its own name wins over it, and of two renamed ones, the one with more of its cells.
                name, count = found
                self.renamed[file.path] = (owner, f"graded {file_name} as {name}.ipynb (its cells are that "
                                                  f"notebook's; keep the released names)")
                return self.use(file, owner, f"{name}.ipynb", order + (-1, count))
        self.set_aside(file, owner, "not a notebook of this assignment")

    def class_level(self, files, level):
        n = len(level)
        folders = defaultdict(list)
        for file in files:
            if file.parts[:n] != level:
                self.set_aside(file, None, "not in a student's folder")
            elif len(file.parts) == n + 1:
                self.lms_file(file)
            else:
                folders[file.parts[n]].append(file)
        for name, inside in sorted(folders.items()):
            moodle = MOODLE.collect(name)
            if name in self.gradescope:
                who = self.gradescope[name]
                owner = (who["submitted_as"], None)
                self.people[owner] = (who.get("name"), who.get("email"), who.get("timestamp"))
                self.upload(inside, owner, (0,), open_zips=True)
            elif moodle:
                self.upload(inside, (moodle["student_id"], moodle["user_id"]), (0,), open_zips=True)
            else:
                self.student_folder(name, inside, n + 1)

    def lms_file(self, file):
        """A file in an LMS's flat download, named for its student."""
        if file.parts[-1] == GRADESCOPE_METADATA and self.gradescope:
            return self.set_aside(file, None, "Gradescope's list of submissions (read for names, emails, times)")
        found = self.notebooks.lms_name(file.parts[-1])
        if not found:
            return self.set_aside(file, None, "not in a student's folder (nor named for one)")
        owner = (found["student_id"], found.get("user_id"))
        if found.get("late"):
            self.late.add((owner, file.path))
        file_name = found["file_id"] or file.parts[-1]     # Blackboard's receipt has none
        if file_name.lower().endswith(".zip"):
            return self.upload([file], owner, _lms_order(found), open_zips=True)
        self.notebook(file, owner, file_name, _lms_order(found))

    def upload(self, files, owner, order, open_zips):
        """What a student uploaded to an LMS: its notebooks, found by name at any depth."""
        for file in files:
            if open_zips and file.parts[-1].lower().endswith(".zip") and not file.reason:
                members = self.unzip(file)
                if (owner, file.path) in self.late:   # a late zip's notebooks are late
                    self.late.update((owner, member.path) for member in members)
                self.upload(members, owner, order, open_zips=False)
            else:
                self.notebook(file, owner, file.parts[-1], order)

    def unzip(self, file):
        """A student's .zip as its files (a zip inside it stays a file)."""
        _load(file, self.budget)
        if file.reason:
            return [file]
        try:
            members = _zip_files(zipfile.ZipFile(io.BytesIO(file.data)), file.path)
        except _TooMany:
            file.reason = f"too large (over {MEMBERS_LIMIT} files)"
            return [file]
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            file.reason = f"a .zip that cannot be opened ({error})"
            return [file]
        if not members:
            file.reason = "an empty .zip"
        return members or [file]

    def student_folder(self, name, files, depth):
        """nbgrader's <student>/<assignment>/..., or <student>/... without the assignment level."""
        owner = (name, None)
        inside = []
        for file in files:
            within = file.parts[depth:]
            if len(within) > 1 and within[0] in self.others:
                self.set_aside(file, owner, OTHER_ASSIGNMENT)
            else:
                inside.append((file, within))
        live = [(file, within) for file, within in inside if not file.reason]
        holding = sorted({within[0] for file, within in live
                          if len(within) == 2 and self.notebooks.match(within[1])})
        if any(within[0] == self.assignment and len(within) > 1 for file, within in live):
            root = (self.assignment,)
        elif any(len(within) == 1 and self.notebooks.match(within[0]) for file, within in live):
            root = ()
        elif len(holding) == 1:
            root = (holding[0],)   # hw_rnn/ for rnn_step_by_step/: graded, and said so
            self.notes[owner].append(f"graded {name}/{holding[0]}/ (nbgrader expects {name}/{self.assignment}/)")
        elif any(len(within) == 1 for file, within in live):
            root = ()              # no notebook at all: graded as such, not dropped
        else:
            root = None            # e.g. another assignment's folder only
        for file, within in inside:
            if root is None or within[:len(root)] != root or len(within) == len(root):
                self.set_aside(file, owner, f"outside the student's assignment folder ({name}/{self.assignment}/)")
                continue
            within = within[len(root):]
            if within == ("timestamp.txt",):
                self.timestamp(file, owner)
            elif within[-1].lower().endswith(".ipynb"):
                if len(within) == 1:
                    self.notebook(file, owner, within[0], (0,))
                else:
                    self.set_aside(file, owner, "not a notebook of this assignment")
            else:
                self.use(file, owner, "/".join(within))

    def timestamp(self, file, owner):
        _load(file, self.budget)
        text = (file.data or b"").decode("utf-8", "replace").strip()
        try:
            parse_utc(text)
        except (ValueError, OverflowError):
            if not file.reason:
                self.notes[owner].append(f"timestamp.txt ignored: {text[:40]!r} is not a date")
            return self.set_aside(file, owner, "a timestamp.txt that is not a date")
        self.use(file, owner, "timestamp.txt")

    def resolve(self, shown):
        """Of several files one student has for one path, the latest is used; the rest are set aside."""
        groups = defaultdict(list)
        for placed in self.placed:
            if placed.used_as:
                groups[placed.owner, placed.used_as].append(placed)
        for group in groups.values():
            group.sort(key=lambda placed: (placed.order, placed.file.path))
            kept = group[-1]
            name = kept.file.path.removeprefix(shown)
            for placed in group[:-1]:
                if placed.file.data == kept.file.data:
                    placed.reason = f"duplicate of a file used ({name})"
                elif placed.order == kept.order:
                    placed.reason = (f"superseded by the last by name ({name}: which was submitted later "
                                     f"cannot be told from the names)")
                else:
                    placed.reason = f"superseded by a later resubmission ({name})"
                placed.used_as = ""

    def collection(self):
        for placed in self.placed:   # a renamed notebook is noted when it is the one used
            if placed.used_as and placed.file.path in self.renamed:
                owner, note = self.renamed[placed.file.path]
                self.notes[owner].append(note)
        # Ids given out over this assignment's students and those of the course's other assignments
        # (`owners`): a student has the same id in each, and two never share one.
        used = {placed.owner for placed in self.placed if placed.used_as}
        ids = _student_ids(used | self.owners)
        submissions, entries = {}, []
        for placed in sorted(self.placed, key=lambda placed: placed.file.path):
            owner = placed.owner
            student_id = ids[owner] if owner in used else ""
            entries.append(Entry(placed.file.path, student_id, owner[0] if owner else "", placed.used_as,
                                 placed.reason))
            if not student_id:
                continue
            if student_id not in submissions:
                name, email, timestamp = self.people.get(owner, (None, None, None))
                submissions[student_id] = Submission(student_id, {}, timestamp=timestamp, notes=self.notes[owner],
                                                     submitted_as=owner[0], lms_user_id=owner[1], name=name,
                                                     email=email)
            submission = submissions[student_id]
            if placed.used_as and (owner, placed.file.path) in self.late:
                submission.late_by_lms = True
            if placed.reason:
                submission.set_aside.append((placed.file.path, placed.reason))
            elif placed.used_as == "timestamp.txt":
                submission.timestamp = placed.file.data.decode("utf-8", "replace").strip()
            else:
                submission.files[placed.used_as] = placed.file.data
        return Collection([submissions[s] for s in sorted(submissions)], entries)


def collect(path, assignment, notebooks, ungraded=(), others=(), owners=()):
    """Every submission in `path` (a folder or a .zip), and what became of each file in it.
    `notebooks`: the graded notebooks' names (or {name: their cells' grade ids}); `ungraded`:
    file names of notebooks the release holds besides them (set aside without a word); `others`: the
    course's other assignments (a student's folder of one is set aside without a word); `owners`: the
    (submitted_as, lms_user_id) of the students of the course's other assignments, for ids that are the
    same for a student in every assignment."""
    path = Path(path)
    if not path.exists():
        raise CollectError(f"{path} does not exist: give a folder of submissions or a .zip of one.")
    if path.is_dir():
        return _collect(path, _read_folder(path), "", assignment, notebooks, ungraded, others, owners)
    if not zipfile.is_zipfile(path):
        raise CollectError(f"{path} is neither a folder nor a .zip file.")
    try:
        with zipfile.ZipFile(path) as archive:
            return _collect(path, _zip_files(archive, path.name), f"{path.name}!", assignment, notebooks, ungraded,
                            others, owners)
    except _TooMany as error:
        raise CollectError(f"{path} holds {error.args[0]} files, more than the {MEMBERS_LIMIT} read from one "
                           f"zip: pass a zip of the class's submissions alone.") from error
    except (zipfile.BadZipFile, OSError) as error:
        raise CollectError(f"{path} cannot be unpacked: {error}") from error


def _collect(top, files, shown, assignment, notebooks, ungraded=(), others=(), owners=()):
    names = _Notebooks(notebooks)
    level = _class_level(top, files, assignment, names)
    budget = _Budget()
    placer = _Placer(assignment, names, budget, _gradescope_export(files, level, budget))
    placer.ungraded = frozenset(name.lower() for name in ungraded)
    placer.others, placer.owners = frozenset(others) - {assignment}, frozenset(owners)
    placer.class_level(files, level)
    placer.resolve(shown + "".join(f"{part}/" for part in level))
    collection = placer.collection()
    if not collection.submissions:
        raise NoSubmissions(
            f"no submissions found in {top} ({collection.summary()}): expected <student_id>/{assignment}/"
            f"<notebook>.ipynb (nbgrader's submitted layout), <student_id>/<notebook>.ipynb, an LMS download "
            f"(Canvas, Moodle, Blackboard) or <student_id>_..._<notebook>.ipynb.")
    return collection


GRADESCOPE_METADATA = "submission_metadata.yml"
METADATA_LIMIT = 16 * 2**20   # bytes of Gradescope's submission_metadata.yml


def _gradescope_export(files, level, budget):
    """{submission folder: {submitted_as, name, email, timestamp}} from the submission_metadata.yml
    of Gradescope's export at `level`, or {} when there is none (or it cannot be read: its folders
    are then graded under their own names, and collection.csv says why)."""
    metadata = next((f for f in files if f.parts == level + (GRADESCOPE_METADATA,)), None)
    if metadata is None or metadata.reason or metadata.size > METADATA_LIMIT:
        return {}
    _load(metadata, budget)
    if metadata.reason:
        return {}
    import yaml

    class NoAliases(yaml.SafeLoader):
        """safe_load without anchors and aliases: Gradescope writes none, and a few nested aliases
        make a 400-byte file a 500 MB string once a name is read."""
        def fetch_alias(self):
            raise yaml.YAMLError("it uses YAML aliases")
        fetch_anchor = fetch_alias
    try:
        # Gradescope writes Ruby's symbols (:submitters:); a safe loader builds plain data only.
        data = yaml.load(metadata.data.decode("utf-8"), Loader=NoAliases)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        metadata.reason = f"cannot be read ({str(error).splitlines()[0][:100]})"
        return {}
    if not isinstance(data, dict):
        return {}

    def get(mapping, key):
        return mapping.get(f":{key}", mapping.get(key)) if isinstance(mapping, dict) else None
    found = {}
    for folder, entry in data.items():
        submitters = get(entry, "submitters")
        first = submitters[0] if isinstance(submitters, list) and submitters else {}
        name, email, sid = (str(get(first, key)).strip()[:200] if isinstance(get(first, key), (str, int)) else ""
                            for key in ("name", "email", "sid"))
        created = get(entry, "created_at")
        timestamp = created.isoformat() if hasattr(created, "isoformat") else str(created or "") or None
        try:
            parse_utc(timestamp) if timestamp else None
        except (ValueError, OverflowError):
            timestamp = None
        found[str(folder)] = {"submitted_as": sid or email or name or str(folder), "name": name or None,
                              "email": email or None, "timestamp": timestamp}
    return found


def collect_uploads(path, assignment, notebooks, student_id, timestamp=None):
    """The files one student uploaded, as they are in `path` (Gradescope's /autograder/submission:
    notebooks found by name or by their cells at any depth, .zips opened), as a Collection of that
    one student, who is there even when nothing could be used (and then scores 0, saying why)."""
    path = Path(path)
    if not path.is_dir():
        raise CollectError(f"{path} is not a folder of a student's uploaded files.")
    placer = _Placer(assignment, _Notebooks(notebooks), _Budget())
    owner = (student_id, None)
    placer.upload(_read_folder(path), owner, (0,), open_zips=True)
    placer.resolve(f"{path}/")
    collection = placer.collection()
    if not collection.submissions:
        collection.submissions = [Submission(safe_id(student_id) or "student", {}, notes=placer.notes[owner],
                                             submitted_as=student_id)]
    for submission in collection.submissions:
        submission.timestamp = submission.timestamp or timestamp
        submission.set_aside = [(e.path, e.reason) for e in collection.entries if e.reason]
    return collection


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
