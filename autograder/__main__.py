"""python -m autograder VERB ...: the instructor's workflow, one verb per step."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("release", help="regenerate release/ from source/")
    grade = verbs.add_parser("grade", help="grade a class of submissions")
    grade.add_argument("submissions", help="folder in nbgrader's submitted layout, or a .zip of one")
    grade.add_argument("--out", required=True, help="folder for grades.csv, results/, feedback/, report.png")
    grade.add_argument("--workers", type=int, default=None, help="processes at once (default: CPU count)")
    grade.add_argument("--timeout", type=int, default=None, help="seconds a cell may run (default: 60)")
    grade.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: SQLite in OUT/course)")
    grade.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="grade on this Dask cluster (tcp://host:8786) instead of local worker processes")
    grade.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="run student code without the sandbox (where Linux namespaces are not available): "
                            "it can then read the solutions and change grades")
    grade.add_argument("--source", default=None, metavar="FOLDER",
                       help="the assignment's source notebooks (default: source/rnn_step_by_step of this course)")
    again = verbs.add_parser("report", help="rewrite grades.csv, results/ and report.png from the gradebook "
                                            "(after grading by hand in formgrader), without grading")
    again.add_argument("out", help="the --out folder of an earlier grade")
    again.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: SQLite in OUT/course)")
    sample = verbs.add_parser("sample-class", help="write a class of sample submissions made from release/")
    sample.add_argument("outdir")
    sample.add_argument("--copies", type=int, default=1, help="copies of each sample student (for benchmarks)")
    args = parser.parse_args(argv)
    if args.verb == "release":
        from . import release
        return release.main(args)
    if args.verb == "sample-class":
        from . import sample
        return sample.main(args)
    if args.verb == "report":
        from . import grade as grading
        return grading.report_main(args)
    if args.verb == "grade":
        from . import grade as grading
        from .course import CELL_TIMEOUT
        if args.workers is not None and args.workers < 1:
            parser.error("--workers must be at least 1")
        args.timeout = args.timeout or CELL_TIMEOUT
        return grading.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
