"""python -m autograder VERB ...: the instructor's workflow, one verb per step."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    releasing = verbs.add_parser("release", help="regenerate release/ from source/")
    releasing.add_argument("--assignment", default=None, help="the assignment to release (default: every one)")
    grade = verbs.add_parser("grade", help="grade a class of submissions")
    grade.add_argument("submissions", help="folder in nbgrader's submitted layout, or a .zip of one")
    grade.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="grade on this Dask cluster (tcp://host:8786) instead of local worker processes")
    grading_options(grade)
    serve = verbs.add_parser("serve", help="stay up and grade submissions as `submit` hands them in (into OUT, "
                                           "as grade would), until Ctrl-C or SIGTERM")
    grading_options(serve)
    submitting = verbs.add_parser("submit", help="hand submissions to the service of `serve --out OUT` and wait "
                                                 "for their scores")
    submitting.add_argument("submissions", help="what grade takes: a folder of submissions, or a .zip of one")
    submitting.add_argument("--out", required=True, help="the --out of the running `serve`")
    submitting.add_argument("--wait", type=positive, default=3600, metavar="SECONDS",
                            help="how long to wait for the scores (default: an hour)")
    from .gradescope import add_parser as add_gradescope
    add_gradescope(verbs)
    again = verbs.add_parser("report", help="rewrite grades.csv, results/ and report.png from the gradebook "
                                            "(after grading by hand in formgrader), without grading")
    again.add_argument("out", help="the --out folder of an earlier grade")
    again.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: SQLite in OUT/course)")
    pages = verbs.add_parser("feedback", help="make every graded student's feedback pages from the gradebook "
                                              "(after grade --feedback later, or grades given in formgrader)")
    pages.add_argument("out", help="the --out folder of an earlier grade")
    pages.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: SQLite in OUT/course)")
    pages.add_argument("--workers", type=int, default=None, help="processes at once (default: CPU count)")
    sample = verbs.add_parser("sample-class", help="write a class of sample submissions made from release/")
    sample.add_argument("outdir")
    sample.add_argument("--copies", type=int, default=1, help="copies of each sample student (for benchmarks)")
    sample.add_argument("--assignment", default=None, help="the assignment whose class to write (default: every one)")
    args = parser.parse_args(argv)
    if args.verb == "release":
        from . import release
        return release.main(args)
    if args.verb == "sample-class":
        from . import sample
        return sample.main(args)
    if args.verb == "feedback":
        from . import grade as grading
        return grading.feedback_main(args)
    if args.verb == "report":
        from . import grade as grading
        return grading.report_main(args)
    if args.verb == "submit":
        from . import submit
        return submit.main(args)
    if args.verb in ("grade", "serve"):
        from . import grade as grading
        from .course import CELL_TIMEOUT
        if args.workers is not None and args.workers < 1:
            parser.error("--workers must be at least 1")
        args.timeout = args.timeout or CELL_TIMEOUT
        args.due = due_date(parser, args.due)
        if args.late_policy is not None:
            from . import late
            try:
                late.parse(args.late_policy)
            except ValueError as error:
                parser.error(str(error))
        if args.verb == "serve":
            from .grade import service
            return service.main(args)
        return grading.main(args)
    if args.verb == "gradescope":
        from . import gradescope
        return gradescope.main(args)
    return 2


def grading_options(parser):
    """What `grade` and `serve` both take: where to, how to grade, and what is recorded with the grades."""
    parser.add_argument("--out", required=True, help="folder for grades.csv, results/, feedback/, report.png")
    parser.add_argument("--workers", type=int, default=None, help="processes at once (default: CPU count)")
    parser.add_argument("--timeout", type=positive, default=None, help="seconds a cell may run (default: 60)")
    parser.add_argument("--db", default=None, help="gradebook SQLAlchemy URL (default: SQLite in OUT/course)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run student code without the sandbox (where Linux namespaces are not available): "
                             "it can then read the solutions and change grades")
    parser.add_argument("--assignment", default=None,
                        help="the assignment to grade, a folder of source/ (default: every one; each into "
                             "OUT/<assignment>/ when there are several)")
    parser.add_argument("--source", default=None, metavar="FOLDER",
                        help="an assignment's source notebooks, graded into OUT (default: source/<assignment>)")
    parser.add_argument("--due", default=None, metavar="DATE",
                        help="the due date, e.g. '2026-12-01 23:59 +01:00' (no zone: UTC); kept for later runs")
    parser.add_argument("--late-policy", default=None, metavar="POLICY",
                        help="none (default), zero, or a share of the score per hour or day late: 10%%/day, 2%%/hour")
    parser.add_argument("--roster", default=None, metavar="CSV",
                        help="the class: id, name, email, lms_id, extension_hours (fills nbgrader's student table)")
    parser.add_argument("--feedback", choices=("now", "later"), default="now",
                        help="make each student's feedback pages while grading (now, the default), or later, "
                             "with `autograder feedback OUT` (grading then takes about a third less time)")


def positive(text):
    """A whole number of at least 1, for argparse (anything else: exit 2 and one sentence)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def due_date(parser, text):
    """--due as an aware datetime (a date without a zone is UTC), or the parser's exit 2."""
    if text is None:
        return None
    import datetime
    from dateutil import parser as dates
    try:
        due = dates.parse(text)
    except (ValueError, OverflowError):
        parser.error(f"--due {text!r} is not a date: give e.g. '2026-12-01 23:59 +01:00'")
    return due if due.tzinfo else due.replace(tzinfo=datetime.timezone.utc)


if __name__ == "__main__":
    sys.exit(main())
