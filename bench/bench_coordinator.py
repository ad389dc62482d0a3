"""Benchmark: the coordinator alone. What the grading process does for every result a worker
returns (record it in the gradebook, write the student's files and state), on synthetic results
(the source notebooks, as if run), without any kernel or worker. Prints results per second,
one result a transaction (a coordinator that keeps up) and --batch a transaction (results that
came in while it worked are recorded together); then the time of the class's reports.

    .venv/bin/python bench/bench_coordinator.py [--results 1000] [--batch 20] [--db URL]

Run by hand, not by `make test`: timings depend on the machine.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import collect, grade as grading  # noqa: E402
ASSIGNMENT = "rnn_step_by_step"  # the assignment benchmarked
from autograder.grade import gradebook  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=20, help="results recorded in one transaction")
    parser.add_argument("--db", help="a gradebook URL (default: SQLite in the temporary OUT)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        course = grading.copy_source(out, ROOT / "source" / ASSIGNMENT)
        db_url = args.db or f"sqlite:///{out / 'course' / 'gradebook.db'}"
        grading.create_gradebook(db_url)
        grading.register_assignment(course, db_url, out / "template.db", 5)
        notebooks = {path.stem: path.read_text() for path in sorted((course / "source" / ASSIGNMENT).glob("*.ipynb"))}
        files = {f"{name}.ipynb": text.encode() for name, text in notebooks.items()}
        timings = {}
        runs = [(f"new students, {batch} a transaction" if batch > 1 else "new students, one a transaction", batch)
                for batch in (1, args.batch)]
        runs.append((f"the same students graded again, {args.batch} a transaction", args.batch))
        for number, (run, batch) in enumerate(runs):
            prefix = f"student{number if number < 2 else 1}_"
            recording = saving = 0.0
            for first in range(0, args.results, batch):
                done = [(f"{prefix}{i:05d}", {"assignment": ASSIGNMENT, "notes": [], "log": "", "seconds": 1.0, "notebooks": {
                    name: {"problem": None, "autograded": text, "feedback": "<html></html>"}
                    for name, text in notebooks.items()}}) for i in range(first, min(first + batch, args.results))]
                start = time.perf_counter()
                gradebook.record_all(db_url, [(dict(result, student_id=student), None, None) for student, result in done])
                recorded = time.perf_counter()
                for student, result in done:
                    grading._save(out, course, collect.Submission(student, files), dict(result, student_id=student),
                                  "key", db_url)
                saving += time.perf_counter() - recorded
                recording += recorded - start
            timings[run] = recording, saving
            scored = gradebook.class_scores(db_url, ASSIGNMENT).get(f"{prefix}{args.results - 1:05d}")
            assert scored and all(s.score == s.max_score for s in scored.values()), "the last result was not recorded"
        start = time.perf_counter()
        grading.write_reports(out, course, db_url, log=lambda *_: None)
        reports = time.perf_counter() - start
        students = len(gradebook.students(db_url, ASSIGNMENT))
    n = args.results
    for run, (recording, saving) in timings.items():
        print(f"{n} results, {run}: recording {recording / n * 1000:.1f} ms each, writing files "
              f"{saving / n * 1000:.1f} ms each; {n / (recording + saving):.1f} results per second")
    print(f"the class's reports (grades.csv, results/, LMS files, report.png) for {students} students: {reports:.1f} s "
          f"({reports / students * 1000:.1f} ms a student), written at the end of every run")

if __name__ == "__main__":
    main()
