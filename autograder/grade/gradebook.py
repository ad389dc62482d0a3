"""The class gradebook: nbgrader's own database, written only by the coordinating process.

Scores are written by nbgrader's SaveAutoGrades preprocessor from the autograded
notebooks the workers return, so the verdicts are nbgrader's, and formgrader and
`nbgrader export` read the same database.
"""

import datetime
import fcntl
import hashlib
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import sqlalchemy
import sqlalchemy.orm
from nbgrader.api import (Assignment, BaseCell, Comment, Grade, Gradebook, MissingEntry, Notebook, Student,
                          SubmittedAssignment, SubmittedNotebook, new_uuid)
from nbgrader.preprocessors import AssignLatePenalties
from nbgrader.utils import parse_utc

from ..course import COURSE_ID
from ..preprocessors import SaveAutoGradesAtOnce, StudentRows, gradebook_engine

_STUDENT, _ASSIGNMENT, _NB, _CELL = Student.__table__, Assignment.__table__, Notebook.__table__, BaseCell.__table__
_SUBMISSION, _NOTEBOOK = SubmittedAssignment.__table__, SubmittedNotebook.__table__
_GRADE, _COMMENT = Grade.__table__, Comment.__table__


@contextmanager
def writing(db_url):
    """Hold the gradebook's writer lock: two grading runs on one gradebook (two instructors,
    or a re-run started before the last one ended) take turns for each write, instead of
    both creating the same student, submission or assignment rows at once. PostgreSQL: a
    session advisory lock; SQLite: an flock on a file beside the database. Re-entrant: a
    process holding it (registering the assignment) may make the tables (create_gradebook
    takes it too); a second lock of its own would wait for itself."""
    held = _held.__dict__.setdefault("urls", set())
    if db_url in held:
        yield
        return
    held.add(db_url)
    try:
        with _locked(db_url):
            yield
    finally:
        held.discard(db_url)


_held = threading.local()  # .urls: the gradebooks whose writer lock this thread holds


@contextmanager
def _locked(db_url):
    if db_url.startswith("postgresql"):
        key = int.from_bytes(hashlib.sha256(f"nbgrader gradebook {COURSE_ID}".encode()).digest()[:8], "big", signed=True)
        with gradebook_engine(db_url).connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    elif db_url.startswith("sqlite:///"):
        with open(Path(db_url[len("sqlite:///"):] + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:  # another database: its own transactions only
        yield


def record(db_url, result, timestamp=None, student=None):
    """Store one worker result; every grade cell of the assignment ends with a score.
    `student`: what the roster or the LMS says of the student (roster.Student), if anything."""
    record_all(db_url, [(result, timestamp, student)])


def record_all(db_url, entries):
    """Store worker results, [(result, timestamp, student)], in one transaction (a kill at any
    moment leaves each student as the last run recorded them). A result the grader cannot record
    (its own failure) stops neither the others nor the run: after the batch is rolled back, each is
    recorded alone, and that one is recorded with no scores and why (results and feedback say it,
    the next run grades it again)."""
    try:
        _record_together(db_url, entries)
    except Exception as error:
        if len(entries) > 1:
            for entry in entries:
                record_all(db_url, [entry])
            return
        result, timestamp, known = entries[0]
        result["error"] = f"internal grader error: its grades could not be recorded ({type(error).__name__})"
        for entry in result["notebooks"].values():
            entry.update(autograded=None, feedback=None)
        _record_together(db_url, entries)


def _record_together(db_url, entries):
    """The batch's rows as nbgrader's `add_submission` and `SaveAutoGrades` make them, written
    with one INSERT or UPDATE per table (executemany) and committed once. nbgrader's ORM flushed
    each student's thirty new rows in three flushes and found the student and the submission with
    a query each: 20 ms a result, five times what the same rows cost written together."""
    with writing(db_url), sqlalchemy.orm.Session(gradebook_engine(db_url)) as session, session.begin():
        for run in _each_student_once(entries):
            _Batch(session, db_url).record(run)


def _each_student_once(entries):
    """The entries in consecutive runs where no student comes twice: a student's second result
    is recorded over the first, as a re-grade (after the first run's rows are written)."""
    runs, seen = [[]], set()
    for entry in entries:
        if entry[0]["student_id"] in seen:
            runs.append([])
            seen.clear()
        seen.add(entry[0]["student_id"])
        runs[-1].append(entry)
    return runs


class _Batch:
    """Results of different students, recorded in one session: their students and
    submissions found in one query each, a re-graded student's grade and comment rows in one
    query for all, then every row written at once. The rows (and their defaults) are those of
    nbgrader's `update_or_create_student`, `update_or_create_submission` and `add_submission`;
    the scores and comments are set by nbgrader's SaveAutoGrades itself (SaveAutoGradesAtOnce
    on StudentRows)."""

    def __init__(self, session, db_url):
        self.session, self.db_url = session, db_url
        self.save = SaveAutoGradesAtOnce()  # a traitlets Configurable: 0.1 ms to make
        self.inserts = {table: [] for table in (_STUDENT, _SUBMISSION, _NOTEBOOK, _GRADE, _COMMENT)}
        self.updates = {table: [] for table in (_STUDENT, _SUBMISSION, _GRADE, _COMMENT)}
        self.assignments = {}  # name: (id, [(notebook name, id, [grade cells], [comment cells])])

    def record(self, entries):
        """`entries` of different students: each one's rows, then all written."""
        ids = [result["student_id"] for result, _, _ in entries]
        students = {row.id: row for row in self.session.execute(
            sqlalchemy.select(_STUDENT).where(_STUDENT.c.id.in_(ids)))}
        submissions = {(name, student): id_ for name, student, id_ in self.session.execute(
            sqlalchemy.select(_ASSIGNMENT.c.name, _SUBMISSION.c.student_id, _SUBMISSION.c.id)
            .join(_ASSIGNMENT, _SUBMISSION.c.assignment_id == _ASSIGNMENT.c.id)
            .where(_SUBMISSION.c.student_id.in_(ids),
                   _ASSIGNMENT.c.name.in_({result["assignment"] for result, _, _ in entries})))}
        grades, comments = self._rows_of(list(submissions.values()))
        for result, timestamp, known in entries:
            student, assignment = result["student_id"], result["assignment"]
            fields = known.gradebook_fields() if known else {}
            if student not in students:
                self.inserts[_STUDENT].append(
                    dict(dict.fromkeys(("first_name", "last_name", "email", "lms_user_id")), id=student, **fields))
            elif any(getattr(students[student], key) != value for key, value in fields.items()):
                self.updates[_STUDENT].append(dict(fields, id=student))
            submission = {"timestamp": parse_utc(timestamp) if timestamp else None,
                          "extension": datetime.timedelta(hours=known.extension_hours)
                          if known and known.extension_hours else None}
            found = submissions.get((assignment, student))
            if found is None:
                found = self._add_submission(assignment, student, submission, grades, comments)
            elif any(submission.values()):
                self.updates[_SUBMISSION].append({key: value for key, value in dict(submission, id=found).items()
                                                  if value is not None})
            self._score(result, grades[found], comments[found])
        self._write()

    def _add_submission(self, assignment, student, columns, grades, comments):
        """add_submission's rows: the submission, its notebooks, a grade for each grade and task
        cell and a comment for each answer and task cell, with nbgrader's column defaults."""
        assignment_id, notebooks = self._assignment(assignment)
        submission = new_uuid()
        self.inserts[_SUBMISSION].append(dict(columns, id=submission, assignment_id=assignment_id,
                                              student_id=student))
        grades[submission], comments[submission] = {}, {}
        for name, notebook_id, graded, commented in notebooks:
            notebook = new_uuid()
            self.inserts[_NOTEBOOK].append(dict(id=notebook, assignment_id=submission, notebook_id=notebook_id,
                                                flagged=False, late_submission_penalty=None))
            for cell, cell_id in graded:
                grades[submission][(name, cell)] = _Row(dict(
                    id=new_uuid(), notebook_id=notebook, cell_id=cell_id, auto_score=None, manual_score=None,
                    extra_credit=None, needs_manual_grade=True), new=True)
            for cell, cell_id in commented:
                comments[submission][(name, cell)] = _Row(dict(
                    id=new_uuid(), notebook_id=notebook, cell_id=cell_id, auto_comment=None, manual_comment=None),
                    new=True)
        return submission

    def _assignment(self, name):
        """The assignment's id and [(notebook name, id, [(graded cell name, id)], [(commented
        cell name, id)])]: the cells that have a grade (grade and task cells) and a comment (answer
        and task cells) in a submission."""
        if name not in self.assignments:
            assignment = self.session.scalar(sqlalchemy.select(_ASSIGNMENT.c.id).where(_ASSIGNMENT.c.name == name))
            if assignment is None:
                raise MissingEntry(f"No such assignment: {name}")
            notebooks = {id_: (notebook, id_, [], []) for notebook, id_ in self.session.execute(
                sqlalchemy.select(_NB.c.name, _NB.c.id).where(_NB.c.assignment_id == assignment))}
            for notebook, cell, id_, kind in self.session.execute(
                    sqlalchemy.select(_CELL.c.notebook_id, _CELL.c.name, _CELL.c.id, _CELL.c.type)
                    .where(_CELL.c.notebook_id.in_(notebooks))):
                if kind in ("GradeCell", "TaskCell"):
                    notebooks[notebook][2].append((cell, id_))
                if kind in ("SolutionCell", "TaskCell"):
                    notebooks[notebook][3].append((cell, id_))
            self.assignments[name] = assignment, list(notebooks.values())
        return self.assignments[name]

    def _rows_of(self, submissions):
        """({submission: {(notebook, cell): _Row}} of the grades, the same of the comments) the
        submissions have, in a query each."""
        return (self._rows(submissions, _GRADE, "auto_score", "manual_score", "needs_manual_grade"),
                self._rows(submissions, _COMMENT, "auto_comment"))

    def _rows(self, submissions, table, *columns):
        found = {submission: {} for submission in submissions}
        if submissions:
            for row in self.session.execute(
                    sqlalchemy.select(_NOTEBOOK.c.assignment_id, _NB.c.name.label("notebook"),
                                      _CELL.c.name.label("cell"), table.c.id, *(table.c[c] for c in columns))
                    .select_from(table.join(_NOTEBOOK, table.c.notebook_id == _NOTEBOOK.c.id)
                                 .join(_NB, _NOTEBOOK.c.notebook_id == _NB.c.id)
                                 .join(_CELL, table.c.cell_id == _CELL.c.id))
                    .where(_NOTEBOOK.c.assignment_id.in_(submissions))):
                found[row.assignment_id][(row.notebook, row.cell)] = _Row(
                    {key: getattr(row, key) for key in ("id", *columns)})
        return found

    def _score(self, result, grades, comments):
        # A re-grade starts clean, so that a cell deleted since the last grading keeps no old score
        # and an answer deleted since keeps no old flag. Manual scores given in formgrader are left alone.
        for grade in grades.values():
            grade.auto_score, grade.needs_manual_grade = None, False
        rows = StudentRows(grades, comments)
        for name, entry in result["notebooks"].items():
            if entry.get("autograded"):
                resources = {"nbgrader": {"notebook": name, "assignment": result["assignment"],
                                          "student": result["student_id"], "db_url": self.db_url}}
                self.save.preprocess(_graded_cells(entry["autograded"]), resources, rows)
        # Missing, unreadable or crashed notebooks, and deleted cells, score zero (as nbgrader does
        # for a missing notebook) rather than waiting for a manual grade that nobody will give. A
        # written answer that is there (SaveAutoGrades flagged it) waits for the instructor.
        for grade in grades.values():
            if grade.auto_score is None and grade.manual_score is None and not grade.needs_manual_grade:
                grade.auto_score = 0
        for table, rows in ((_GRADE, grades), (_COMMENT, comments)):
            for row in rows.values():
                if row.new:
                    self.inserts[table].append(row.columns())
                elif changed := row.changed():
                    self.updates[table].append(changed)

    def _write(self):
        """Parents before children (PostgreSQL checks foreign keys at once)."""
        for table, rows in self.inserts.items():
            if rows:
                self.session.execute(table.insert(), rows)
        for table, rows in self.updates.items():
            by_columns = {}
            for row in rows:
                by_columns.setdefault(tuple(sorted(row)), []).append({f"_{k}": v for k, v in row.items()})
            for columns, same in by_columns.items():
                self.session.execute(table.update().where(table.c.id == sqlalchemy.bindparam("_id"))
                                     .values({c: sqlalchemy.bindparam(f"_{c}") for c in columns if c != "id"}),
                                     same)


class _Row:
    """A grade or comment row as SaveAutoGrades sets it (attributes), and what changed since it
    was read."""

    def __init__(self, columns, new=False):
        self.__dict__.update(columns, new=new, _read=dict(columns))

    def columns(self):
        return {key: getattr(self, key) for key in self._read}

    def changed(self):
        changed = {key: value for key, value in self.columns().items() if value != self._read[key]}
        return dict(changed, id=self.id) if changed else {}


_SAVED = ("grade", "solution", "task")  # the cells SaveAutoGrades reads (utils.is_grade, is_solution, is_task)


def _graded_cells(text):
    """The notebook as nbformat reads it (its JSON reader's NotebookNode, lines joined), with only
    the cells SaveAutoGrades reads. nbformat.reads made a NotebookNode of every cell and validated
    the whole notebook against its schema, which only logs what it finds: 2 ms a notebook."""
    notebook = json.loads(text)
    if notebook.get("nbformat") != 4:
        return nbformat.reads(text, as_version=4)  # another version: nbformat converts it
    notebook["cells"] = [cell for cell in notebook["cells"]
                         if any(cell.get("metadata", {}).get("nbgrader", {}).get(kind) for kind in _SAVED)]
    return nbformat.v4.to_notebook_json(notebook)


@dataclass(frozen=True)
class Score:
    score: float
    max_score: float
    pending: bool = False      # a written answer waiting for the instructor's grade
    by_hand: bool = False      # the instructor's grade (formgrader), which overrides the tests'
    comment: str = ""          # the instructor's comment on the cell


def class_scores(db_url, assignment):
    """{student: {(notebook, grade_id): Score}} for every student of the assignment, as the
    gradebook has them, in two queries: nbgrader's objects run a query for each grade's score
    and points (40 ms a student, minutes for a large class at the end of every run)."""
    from nbgrader.api import Assignment, BaseCell, Comment, Grade, Notebook, SubmittedAssignment, SubmittedNotebook

    def of_the_assignment(table, *columns):
        return (gb.db.query(SubmittedAssignment.student_id, Notebook.name, BaseCell.name, *columns)
                .select_from(table)
                .join(SubmittedNotebook, table.notebook_id == SubmittedNotebook.id)
                .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
                .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
                .join(BaseCell, table.cell_id == BaseCell.id)
                .filter(Assignment.name == assignment))

    with Gradebook(db_url, COURSE_ID) as gb:
        comments = {(student, notebook, cell): text or ""
                    for student, notebook, cell, text in of_the_assignment(Comment, Comment.manual_comment)}
        found = {}
        for student, notebook, cell, score, max_score, auto, manual in of_the_assignment(
                Grade, Grade.score, Grade.max_score, Grade.auto_score, Grade.manual_score):
            found.setdefault(student, {})[(notebook, cell)] = Score(
                float(score or 0), float(max_score), pending=auto is None and manual is None,
                by_hand=manual is not None, comment=comments.get((student, notebook, cell), ""))
        return found


def students(db_url, assignment):
    """The ids of every student with a submission of the assignment, whatever run graded them
    (one query: a run that grades one more student of a large class asks this for all of them)."""
    query = sqlalchemy.select(_SUBMISSION.c.student_id).join(
        _ASSIGNMENT, _SUBMISSION.c.assignment_id == _ASSIGNMENT.c.id).where(_ASSIGNMENT.c.name == assignment)
    with gradebook_engine(db_url).connect() as connection:
        return sorted(connection.execute(query).scalars())


def source_cells(source_folder):
    """{(notebook, grade_id, kind)} of the source notebooks' graded, answer and task cells: what
    nbgrader cannot change in an assignment that has submissions."""
    from nbgrader import utils
    cells = set()
    for path in sorted(Path(source_folder).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for kind, test in (("grade", utils.is_grade), ("solution", utils.is_solution), ("task", utils.is_task)):
                if test(cell):
                    cells.add((path.stem, cell.metadata["nbgrader"]["grade_id"], kind))
    return cells


def registered_cells(db_url, assignment):
    """The same set as the gradebook has the assignment, or None when it has not got it."""
    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            return None
        return {(notebook.name, cell.name, kind) for notebook in found.notebooks
                for kind, found in (("grade", notebook.grade_cells), ("solution", notebook.solution_cells),
                                    ("task", notebook.task_cells)) for cell in found}


def assignment_record(db_url, assignment):
    """What nbgrader's generate_assignment writes of the assignment into a gradebook: its
    notebooks' grade, answer, task and source cells (points, types, source text, checksums),
    or None when the gradebook has not got it. A gradebook whose record equals the template's
    needs no second registration."""
    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            return None
        record = set()
        for notebook in found.notebooks:
            record.add((notebook.name, "notebook", notebook.kernelspec))
            record |= {(notebook.name, "grade", c.name, c.max_score, c.cell_type) for c in notebook.grade_cells}
            record |= {(notebook.name, "solution", c.name) for c in notebook.solution_cells}
            record |= {(notebook.name, "task", c.name, c.max_score, c.cell_type) for c in notebook.task_cells}
            record |= {(notebook.name, "source", c.name, c.cell_type, c.locked, c.source, c.checksum)
                       for c in notebook.source_cells}
        return record


def is_empty(db_url):
    """Whether the gradebook has tables and nothing else: no assignment, no student."""
    with Gradebook(db_url, COURSE_ID) as gb:
        return not gb.assignments and not gb.students


def grades_by_hand(db_url, assignment):
    """[{student, notebook, cell, manual_score, extra_credit, comment}]: all the instructors
    gave in formgrader, to put back after the assignment is registered again."""
    kept = []
    with Gradebook(db_url, COURSE_ID) as gb:
        for submission in gb.find_assignment(assignment).submissions:
            for notebook in submission.notebooks:
                given = {}
                for grade in notebook.grades:
                    if grade.manual_score is not None or grade.extra_credit:
                        given.setdefault(grade.name, {}).update(manual_score=grade.manual_score,
                                                                extra_credit=grade.extra_credit)
                for comment in notebook.comments:
                    if comment.manual_comment:
                        given.setdefault(comment.name, {})["comment"] = comment.manual_comment
                kept += [{"student": submission.student_id, "notebook": notebook.name, "cell": cell, **values}
                         for cell, values in sorted(given.items())]
    return kept


def remove_assignment(db_url, assignment):
    """The assignment and every submission of it out of the gradebook (students stay)."""
    with writing(db_url), Gradebook(db_url, COURSE_ID) as gb:
        gb.remove_assignment(assignment)


def put_back(db_url, assignment, student, kept):
    """The grades and comments `kept` (from grades_by_hand) of `student` on the cells that still
    exist; returns how many were put back."""
    mine = [entry for entry in kept if entry["student"] == student]
    if not mine:
        return 0
    restored = 0
    with writing(db_url), Gradebook(db_url, COURSE_ID) as gb:
        for entry in mine:
            try:
                if "manual_score" in entry:
                    grade = gb.find_grade(entry["cell"], entry["notebook"], assignment, student)
                    grade.manual_score, grade.extra_credit = entry["manual_score"], entry["extra_credit"]
                if entry.get("comment"):
                    gb.find_comment(entry["cell"], entry["notebook"], assignment, student).manual_comment = \
                        entry["comment"]
                restored += 1
            except MissingEntry:  # the cell is gone from the assignment: its grade goes with it
                pass
        gb.db.commit()
    return restored


def set_due_date(db_url, assignment, due):
    """The assignment's due date in the gradebook (nbgrader's Assignment.duedate, naive UTC),
    where nbgrader's lateness and formgrader read it."""
    with writing(db_url), Gradebook(db_url, COURSE_ID) as gb:
        gb.update_or_create_assignment(assignment, duedate=due)


def due_date(db_url, assignment):
    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            return gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None


def assign_late_penalties(db_url, assignment, student, config):
    """nbgrader's AssignLatePenalties, configured with the course's late policy, on each of the
    student's notebooks: the penalty follows the gradebook's scores (a hand grade included)."""
    with Gradebook(db_url, COURSE_ID) as gb:
        notebooks = [notebook.name for notebook in gb.find_submission(assignment, student).notebooks]
    with writing(db_url):
        for name in notebooks:
            resources = {"nbgrader": {"notebook": name, "assignment": assignment, "student": student,
                                      "db_url": db_url}}
            AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)


@dataclass(frozen=True)
class Lateness:
    submitted_at: datetime.datetime | None   # naive UTC, as nbgrader keeps it
    seconds_late: float
    penalty: float


def class_lateness(db_url, assignment):
    """{student: Lateness} for every student of the assignment, in one session."""
    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            submissions = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return {}
        return {submission.student_id: Lateness(submission.timestamp, submission.total_seconds_late,
                                                 float(submission.late_submission_penalty or 0.0))
                for submission in submissions}


def student_records(db_url):
    """{student id: nbgrader's Student as a dict (first_name, last_name, email, lms_user_id)}."""
    with Gradebook(db_url, COURSE_ID) as gb:
        return {s.id: {"first_name": s.first_name, "last_name": s.last_name, "email": s.email,
                       "lms_user_id": s.lms_user_id} for s in gb.students}


def add_students(db_url, students):
    """The roster's students in nbgrader's student table (names, emails, LMS ids), submitted or not."""
    if not students:
        return
    from ..collect import safe_id
    with writing(db_url), Gradebook(db_url, COURSE_ID) as gb:
        for student in students:
            gb.update_or_create_student(safe_id(student.id), **student.gradebook_fields())
