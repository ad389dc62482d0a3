"""Report: what the grader writes to OUT besides the gradebook.

grades.csv (one row per student), results/<student>.json (Gradescope's results
format), report.png (the class at a glance) and the summary table printed at the end.
"""

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader import utils

from ..gradescope import TEST_VISIBILITY   # each test's visibility on Gradescope
from .. import atomic, spreadsheet
from ..course import assignment_in
from .gradebook import Score

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# How the visible and hidden tests name a student's mistake (autograder/mistakes.py).
KNOWN_MISTAKE = re.compile(r"Known mistake: ([^.]+)\.")


@dataclass(frozen=True)
class GradeCell:
    notebook: str
    grade_id: str
    points: float
    written: bool   # graded by the instructor (nbgrader's "manually graded answer" or "task"), not by tests


def _written(cell):
    """Whether a graded cell is graded by the instructor (an answer or a task), not by running it."""
    return utils.is_solution(cell) or utils.is_task(cell) or cell.cell_type != "code"


def grade_cells(source_folder):
    """[GradeCell] in the order the source notebooks give them."""
    cells = []
    for path in sorted(Path(source_folder).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if utils.is_grade(cell) or utils.is_task(cell):
                meta = cell.metadata["nbgrader"]
                cells.append(GradeCell(path.stem, meta["grade_id"], float(meta.get("points", 0)), _written(cell)))
    return cells


def cell_messages(autograded):
    """{grade_id: what the student should read} from an autograded notebook, for every grade
    cell it holds (a written answer: None, its grade comes from the gradebook)."""
    messages = {}
    for cell in nbformat.reads(autograded, as_version=4).cells:
        if not (utils.is_grade(cell) or utils.is_task(cell)):
            continue
        meta = cell.metadata["nbgrader"]
        if _written(cell):
            messages[meta["grade_id"]] = None
            continue
        message = "Passed."
        for output in cell.outputs:
            if output.output_type == "error":
                # nbclient interrupts a cell that runs past the timeout: KeyboardInterrupt
                # (or CellTimeoutError when even the interrupt got no reply).
                if output.ename in ("CellTimeoutError", "KeyboardInterrupt"):
                    message = TIMED_OUT
                else:
                    message = ANSI.sub("", f"{output.ename}: {output.evalue}").strip()
                break
            if output.output_type == "stream" and output.name == "stderr":
                message = "The cell wrote to stderr: " + ANSI.sub("", output.text).strip()[:500]
                break
        messages[meta["grade_id"]] = message
    return messages


TIMED_OUT = "The cell did not finish within the time limit (an endless loop?)."
DELETED_TEST = "This test cell is missing from the notebook (deleted, or its metadata removed)."
DELETED_ANSWER = "This answer cell is missing from the notebook (deleted, or its metadata removed)."
# What took a cell's points from the student without the student's code being wrong there:
# the status names such cells, so that an instructor looks at them.
LOST = (("time limit", (TIMED_OUT, "NotebookTimeout")), ("kernel died", ("KernelDied",)),
        ("cell deleted", (DELETED_TEST, DELETED_ANSWER)))


def _written_output(score):
    if score.pending:
        return f"Awaiting manual grading ({score.max_score:g} points)."
    if score.by_hand:
        return f"Graded by hand: {score.score:g}/{score.max_score:g}." + (f" {score.comment}" if score.comment else "")
    return "No answer written (the cell is as released)." if score.score == 0 else "Graded."


def student_report(result, scores, cells, submitted_as=None, late=None, test_visibility=TEST_VISIBILITY):
    """The student's results.json content (Gradescope's format, fields its specification names
    only) and grades.csv row. `scores` come from the gradebook ({(notebook, grade_id):
    gradebook.Score}), messages from the autograded notebooks; `late` is gradebook.Lateness."""
    entries, per_notebook = [], {}
    messages = {}
    for name, entry in result["notebooks"].items():
        if entry.get("autograded"):
            messages.update({(name, gid): text for gid, text in cell_messages(entry["autograded"]).items()})
    numbers = {}
    for cell in cells:
        score = scores.get((cell.notebook, cell.grade_id), Score(0.0, cell.points))
        entry = result["notebooks"].get(cell.notebook, {})
        present = (cell.notebook, cell.grade_id) in messages
        if entry.get("problem") or result.get("error"):
            output = entry.get("problem") or result.get("error")
        elif not present:
            output = DELETED_ANSWER if cell.written else DELETED_TEST
        elif cell.written or score.by_hand:
            output = _written_output(score)
        else:
            output = messages[(cell.notebook, cell.grade_id)]
        # Gradescope's "number" orders and groups the tests: notebook 4, its 3rd test is "4.3".
        numbers[cell.notebook] = numbers.get(cell.notebook, 0) + 1
        test = {"name": cell.grade_id, "number": f"{_notebook_number(cell.notebook, cells)}.{numbers[cell.notebook]}",
                "score": score.score, "max_score": score.max_score}
        if not score.pending:  # a written answer awaiting its grade has no status (the spec's two are final)
            test["status"] = "passed" if score.score >= score.max_score else "failed"
        # Messages are plain text (they quote student code and names): never rendered as HTML.
        test.update({"output": output, "output_format": "text", "tags": [cell.notebook],
                     "visibility": test_visibility})
        entries.append(test)
        per_notebook[cell.notebook] = per_notebook.get(cell.notebook, 0.0) + score.score
    status = _status(result, entries)
    raw = sum(e["score"] for e in entries)
    penalty = late.penalty if late else 0.0
    total = max(0.0, raw - penalty)  # as nbgrader's export computes it
    notes = [f"Note: {n}" for n in result.get("notes", [])]
    if late and late.seconds_late > 0:
        notes.insert(0, f"Late by {_duration(late.seconds_late)}: {penalty:g} points taken off "
                        f"({raw:g} before the late penalty).")
        status += f"; late by {_duration(late.seconds_late)}"
    results = {"score": total, "execution_time": round(result.get("seconds", 0.0)),
               "output": "\n".join([status, *notes]), "output_format": "text",
               "visibility": "visible", "stdout_visibility": "hidden", "tests": entries}
    submitted_at = late.submitted_at.strftime("%Y-%m-%d %H:%M:%S UTC") if late and late.submitted_at else ""
    row = {"student_id": result["student_id"], "submitted_as": submitted_as or result["student_id"],
           "score": total, "max_score": sum(c.points for c in cells), **per_notebook,
           "submitted_at": submitted_at, "late_penalty": penalty, "status": status}
    return results, row


def _notebook_number(notebook, cells):
    """1 for the first notebook of the assignment, 2 for the next..."""
    order = list(dict.fromkeys(cell.notebook for cell in cells))
    return order.index(notebook) + 1


def _duration(seconds):
    hours = seconds / 3600
    if seconds < 60:
        return f"{seconds:.0f} second{'' if round(seconds) == 1 else 's'}"
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours" if hours >= 1 else f"{seconds / 60:.0f} minutes"


def _status(result, entries):
    """One line for grades.csv: graded or not, then whatever an instructor should look at."""
    problems = [e["problem"] for e in result["notebooks"].values() if e.get("problem")]
    if result.get("error"):
        problems.insert(0, result["error"])
    if not problems:
        status = "graded"
    elif len(problems) < len(result["notebooks"]) and not result.get("error"):
        status = "graded except: " + "; ".join(problems)
    else:
        status = "not graded: " + "; ".join(problems)
    lost = [f"{e['name']} ({why})" for e in entries if e["score"] < e["max_score"]
            for why, marks in LOST if e["output"].startswith(marks)][:5]
    if lost:
        status += "; cells lost: " + ", ".join(lost)
    pending = sum(e["max_score"] for e in entries if "status" not in e)
    if pending:
        status += f"; awaiting manual grading ({pending:g} points)"
    status += "".join(f"; {note}" for note in result.get("notes", []) if note.startswith(STATUS_NOTES))
    return status


# Notes that belong in the status too (the rest are in results/<student>.json only).
STATUS_NOTES = ("files set aside",)


def mistakes_of(results):
    """The known mistakes a student's test outputs name, in the order they first appear."""
    found = []
    for test in results["tests"]:
        for name in KNOWN_MISTAKE.findall(test["output"]):
            if name not in found:
                found.append(name)
    return found


def mistake_counts(all_results):
    """[(mistake, number of students who made it)], most frequent first."""
    counts = {}
    for results in all_results:
        for name in mistakes_of(results):
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def write_results(out, student_id, results):
    path = Path(out) / "results" / f"{student_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(results, indent=1) + "\n")


def write_grades(out, rows, notebooks):
    columns = ["student_id", "submitted_as", "score", "max_score", *notebooks, "submitted_at", "late_penalty", "status"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["student_id"]):
        writer.writerow({key: spreadsheet.cell(_number(row.get(key, 0.0))) if isinstance(row.get(key), str)
                         else _number(row.get(key, 0.0)) for key in columns})
    atomic.write_text(Path(out) / "grades.csv", buffer.getvalue())


def _number(value):
    return f"{value:g}" if isinstance(value, float) else value


def import_matplotlib():
    """matplotlib.pyplot with a backend that needs no display (its import takes a second)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot(out, all_results, cells):
    """report.png: the distribution of scores, how many students passed each test, and how
    many made each known mistake."""
    _figure(out, [("", all_results, cells)])


def _figure(out, classes):
    """report.png: a row of panels (_draw) for each of `classes`, [(title, results, cells)]."""
    plt = import_matplotlib()
    fig, axes = plt.subplots(len(classes), 3, figsize=(18, 4.8 * len(classes)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.3, 1.3]})
    for row, (title, all_results, cells) in zip(axes, classes):
        _draw(row, all_results, cells, title)
    fig.tight_layout()
    with atomic.replacing(Path(out) / "report.png") as new:
        fig.savefig(new, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def _draw(axes, all_results, cells, title=""):
    """One class's three panels (scores, pass rates, known mistakes) on `axes`; `title` before each title."""
    left, right, mistakes = axes
    totals = [r["score"] for r in all_results]
    max_score = sum(cell.points for cell in cells)
    names = [cell.grade_id for cell in cells]
    passed = [sum(1 for r in all_results for t in r["tests"] if t["name"] == gid and t.get("status") == "passed")
              for gid in names]
    n = max(len(all_results), 1)
    counts = mistake_counts(all_results)
    left.hist(totals, bins=[x - 0.5 for x in range(int(max_score) + 2)], color="#4c72b0", edgecolor="white")
    left.set(xlabel=f"score (out of {max_score:g})", ylabel="students",
             title=f"{title}Scores of {len(all_results)} students (mean {sum(totals) / n:.1f})")
    left.yaxis.get_major_locator().set_params(integer=True)
    y = range(len(names))[::-1]
    right.barh(list(y), [100 * p / n for p in passed], color="#55a868")
    right.set_yticks(list(y), names, fontsize=8)
    right.set(xlim=(0, 100), xlabel="% of students who passed", title=f"{title}Pass rate of each test")
    for yi, p in zip(y, passed):
        share = 100 * p / n  # a long bar gets its label inside, a short one beside it
        right.text(share - 1 if share > 85 else share + 1, yi, f"{p}/{n}", va="center", fontsize=8,
                   ha="right" if share > 85 else "left", color="white" if share > 85 else "black")
    if counts:
        y = range(len(counts))[::-1]
        mistakes.barh(list(y), [c for _, c in counts], color="#c44e52")
        mistakes.set_yticks(list(y), [name for name, _ in counts], fontsize=8)
        mistakes.xaxis.get_major_locator().set_params(integer=True)
    else:
        mistakes.text(0.5, 0.5, "no known mistake", ha="center", va="center", transform=mistakes.transAxes)
        mistakes.set_yticks([])
    mistakes.set(xlabel="students", title=f"{title}Known mistakes the tests named")


@dataclass
class GradedClass:
    """What one assignment's grading wrote in its OUT, read back for the course's report."""
    rows: list          # grades.csv's rows ({column: text})
    notebooks: list     # the assignment's notebooks, in order
    results: list       # results/<student>.json, parsed
    cells: list         # [GradeCell]


def read_class(out):
    """The GradedClass in `out`, one assignment's OUT."""
    out = Path(out)
    source = out / "course" / "source" / assignment_in(out / "course" / "source")
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    results = [json.loads(path.read_text()) for path in sorted((out / "results").glob("*.json"))]
    return GradedClass(rows, sorted(p.stem for p in source.glob("*.ipynb")), results, grade_cells(source))


def write_course(out, classes):
    """The course's grades.csv (a row per student of any assignment: the course's total, then each
    assignment's score and its notebooks', empty where the student has no submission of it) and
    report.png (a row of panels per assignment), from {assignment: GradedClass}."""
    columns = ["student_id", "score", "max_score"]
    for name, graded in classes.items():
        columns += [name] + [f"{name}/{notebook}" for notebook in graded.notebooks]
    students = sorted({row["student_id"] for graded in classes.values() for row in graded.rows})
    table = {student: {"student_id": student, "score": 0.0, "max_score": 0.0} for student in students}
    for name, graded in classes.items():
        max_score = sum(cell.points for cell in graded.cells)
        for student in students:
            table[student]["max_score"] += max_score
        for row in graded.rows:
            line = table[row["student_id"]]
            line["score"] += float(row["score"])
            line[name] = row["score"]
            line.update({f"{name}/{notebook}": row[notebook] for notebook in graded.notebooks})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n", restval="")
    writer.writeheader()
    for student in students:
        line = table[student]
        writer.writerow({**line, "student_id": spreadsheet.cell(student), "score": _number(line["score"]),
                         "max_score": _number(line["max_score"])})
    atomic.write_text(Path(out) / "grades.csv", buffer.getvalue())
    _figure(out, [(f"{name}\n", graded.results, graded.cells) for name, graded in classes.items()])


def summary_table(rows, notebooks, counts=()):
    """A plain-text table of every student, then the class totals and the known mistakes
    (`counts`, from mistake_counts)."""
    short = [name.split("_", 1)[0] for name in notebooks]  # "1", "2", "3"
    header = ["student", "score", *[f"nb{s}" for s in short], "status"]
    lines = [[r["student_id"], f"{r['score']:g}/{r['max_score']:g}",
              *[f"{r.get(nb, 0.0):g}" for nb in notebooks], r["status"][:70]] for r in rows]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    text = [" ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [header, *lines]]
    text.insert(1, " ".join("-" * w for w in widths))
    if rows:
        # every notebook ran (a cell lost to a deleted test or an endless loop is the student's own)
        graded = sum(1 for r in rows if r["status"].split(";")[0] == "graded")
        waiting = sum(1 for r in rows if "awaiting manual grading" in r["status"])
        mean = sum(r["score"] for r in rows) / len(rows)
        text.append(f"{len(rows)} students, {graded} fully graded, mean score {mean:.2f}/{rows[0]['max_score']:g}"
                    + (f"; {waiting} awaiting manual grading (formgrader, then `python -m autograder report`)"
                       if waiting else ""))
    if counts:
        text.append("Known mistakes: " + "; ".join(f"{name} ({c} student{'s' if c > 1 else ''})" for name, c in counts))
    return "\n".join(text)
