"""`python -m autograder serve --out OUT`: grading that stays up, for submissions as they come.

`grade` pays for its start on every run: Python's imports, the set-up of OUT, the registration,
the workers and their fork servers (seconds, before the first notebook runs). The service pays
once, then grades what `python -m autograder submit SUBMISSIONS --out OUT` hands it, as `grade`
would grade it into the same OUT (the same collection, sandbox, gradebook, files and results),
and answers with each student's score and results file, then again once their feedback pages
are made. The class's reports (grades.csv, the LMS files, report.png) are written again once it
has been idle for a moment, and when it stops.

The socket, OUT/grader.sock, is made 0600 and only the instructor (or root) may connect: a
request names files the service reads with the instructor's rights. A request is one JSON line
of at most submit.REQUEST_BYTES, read within REQUEST_SECONDS. Requests that arrive while a
batch is graded are graded together as the next batch. SIGTERM or Ctrl-C stops the service
after the submissions under way are saved.
"""

import contextlib
import datetime
import functools
import itertools
import json
import os
import shutil
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path

from .. import collect, roster, submit
from . import (Grading, Options, SetupError, WorkerPool, _follow_source_change, _regrade_path, chosen_sources,
               make_owed_pages, write_results, writable)

REQUEST_SECONDS = 10   # a client that connects and says nothing is dropped after this
IDLE_SECONDS = 2       # the class's reports are written again once no request came for this long
KERNEL_CELLS = 5       # a kernel's start and end cost about as much as five cells of this series


class _Quiet:
    """tqdm's interface, for pool.grade: the service logs each batch itself."""

    def update(self, n):
        pass


def _peer_uid(connection):
    """The uid of the process at the other end of a Unix socket."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def _listen(out):
    """OUT/grader.sock, 0600 from its creation (bound by a path relative to OUT: a Unix socket's
    path has at most 107 bytes)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here, mask = os.open(".", os.O_RDONLY), os.umask(0o177)
    try:
        os.chdir(out)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(submit.SOCKET)  # a service that was killed left it
        listener.bind(submit.SOCKET)
    finally:
        os.umask(mask)
        os.fchdir(here)
        os.close(here)
    listener.listen(64)
    return listener


def parts_of(costs, count):
    """The notebooks {name: cost}, in order, cut into at most `count` consecutive parts whose
    largest cost is least. Consecutive: a part's notebooks need those before them prepared
    (worker.PartAutograde), and a series' later notebooks build on the earlier ones."""
    names = list(costs)
    count = min(count, len(names))
    best = [names]
    for cuts in itertools.combinations(range(1, len(names)), count - 1):
        parts = [names[a:b] for a, b in zip((0, *cuts), (*cuts, len(names)))]
        if max(_cost(part, costs) for part in parts) < max(_cost(part, costs) for part in best):
            best = parts
    return best


def _cost(part, costs):
    return sum(costs[name] for name in part)


def notebook_costs(source):
    """What grading each notebook of the assignment folder `source` costs, in cells: its code
    cells, and a kernel's start, worth about KERNEL_CELLS cells here."""
    costs = {}
    for path in sorted(Path(source).glob("*.ipynb")):
        cells = json.loads(path.read_text()).get("cells", [])
        costs[path.stem] = KERNEL_CELLS + sum(cell.get("cell_type") == "code" for cell in cells)
    return costs


class Service:
    def __init__(self, run, workers, stop):
        self.run, self.stop = run, stop
        self.pool = WorkerPool(workers, run.initargs())
        self.costs = notebook_costs(run.course / "source" / run.assignment)
        self.requests = 0
        self.reported = False  # whether the class's reports show every batch graded so far

    def _request(self, connection):
        """(connection, submissions) of one client, or None when it was answered already (an
        error) or dropped."""
        try:
            if _peer_uid(connection) not in (os.getuid(), 0):
                self._answer(connection, {"error": "only the instructor who started the service may submit to it."})
                return None
            line = submit.Lines(connection).read(submit.REQUEST_BYTES, time.monotonic() + REQUEST_SECONDS)
            request = json.loads(line)
            path = request["submissions"] if isinstance(request, dict) else None
            if not isinstance(path, str) or not os.path.isabs(path):
                raise ValueError("no absolute path of submissions")
        except (OSError, EOFError, TimeoutError) as error:
            self.run.log(f"A client was dropped: {error}.")
            connection.close()
            return None
        except (ValueError, KeyError, TypeError) as error:
            self._answer(connection, {"error": f"the request is not one the service understands ({error})."})
            return None
        self.requests += 1
        try:
            submissions = self.run.collected(path, csv_path=self.run.out / "logs" / f"collection-{self._stamp()}.csv")
        except collect.CollectError as error:
            self._answer(connection, {"error": str(error)})
            return None
        except Exception as error:  # whatever a path holds, the service goes on
            self.run.log(f"Could not collect {path}: {traceback.format_exc()}")
            self._answer(connection, {"error": f"could not read {path}: {type(error).__name__}: {error}"})
            return None
        return connection, submissions

    def _stamp(self):
        return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{self.requests}"

    @staticmethod
    def _answer(connection, reply, last=True):
        try:
            connection.settimeout(REQUEST_SECONDS)
            connection.sendall(json.dumps(reply).encode()[:submit.REPLY_BYTES - 1] + b"\n")
        except OSError:
            pass  # the client went away: its results are in OUT all the same
        finally:
            if last:
                connection.close()

    def _grader_failed(self, waiting, doing, remedy):
        """The grader's own failure while `doing` (the gradebook unreachable, the disk full), not a
        submission's: the traceback to the service's log, one sentence to each client `waiting`;
        the service goes on for the next clients."""
        error = sys.exc_info()[1]
        self.run.log(f"The grader failed while {doing}: {traceback.format_exc()}")
        for connection, _ in waiting:
            self._answer(connection, {"error": f"the grader failed while {doing} ({type(error).__name__}: {error}); "
                                               f"{remedy}"})

    def grade(self, waiting):
        """Grade the submissions of the clients `waiting` [(connection, submissions)] as one batch,
        then answer each with its students' scores and results files; then make the pages still
        owed (a submission graded in parts) and answer again."""
        start = time.monotonic()
        submissions = [submission for _, batch in waiting for submission in batch]
        owed = []  # the students whose pages are made after the answer
        try:
            todo = self.run.to_grade(submissions)
            if todo:
                # Workers that would be idle grade parts of a submission (a student alone: its later
                # notebooks while another worker grades the earlier ones).
                share = self.pool.workers // len(todo)
                parts = parts_of(self.costs, share) if share > 1 else None
                # Parts make no pages (each shows the scores of the whole submission): they are
                # made from the class gradebook, after the clients have their results.
                record = functools.partial(self.run.record, pages_owed=parts is not None)
                owed = [submission.student_id for submission in todo] if parts else []
                self.pool.grade(todo, record, _Quiet(), self.stop, self.run.crashed, parts)
            students = [submission.student_id for submission in submissions]
            rows, _ = write_results(self.run.out, self.run.course, self.run.db_url, students,
                                    self.run.options.test_visibility)
        except KeyboardInterrupt:
            for connection, _ in waiting:
                self._answer(connection, {"error": "the service was stopped before it finished: submit again."})
            raise
        except Exception:
            # What was not saved is graded again when submitted again: a student's state is written last.
            self._grader_failed(waiting, "grading or recording these submissions", "nothing of them is lost: "
                                "submit again once the service's log shows the cause mended.")
            return
        rows = {row["student_id"]: row for row in rows}
        for connection, batch in waiting:
            self._answer(connection, {"students": [
                {"student": s.student_id, "score": rows[s.student_id]["score"],
                 "max_score": rows[s.student_id]["max_score"],
                 "results": str(self.run.out / "results" / f"{s.student_id}.json")}
                for s in batch if s.student_id in rows], "pages": "coming"}, last=False)
        try:
            for student in owed:
                make_owed_pages(self.run.out, self.run.course, self.run.db_url, student)
        except Exception:  # the states still owe the pages
            self._grader_failed(waiting, "making the feedback pages", "submit again, and the submissions are "
                                "graded again with their pages.")
            return
        for connection, _ in waiting:
            self._answer(connection, {"pages": "made"})
        self.run.log(f"Graded {len(todo)} of {len(submissions)} submissions in {time.monotonic() - start:.1f} s: "
                     + ", ".join(f"{s}: {rows[s]['score']:g}" for s in students if s in rows))

    def serve(self, listener):
        listener.settimeout(0.2)
        idle_since = time.monotonic()
        while not self.stop.is_set():
            try:
                first = listener.accept()[0]
            except TimeoutError:
                if not self.reported and time.monotonic() - idle_since > IDLE_SECONDS:
                    try:
                        self.run.reports()
                    except Exception:  # as in grade: the service goes on; tried again after the next batch
                        self.run.log(f"Could not write the class's reports: {traceback.format_exc()}")
                    self.reported = True
                continue
            connections = [first]
            listener.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while len(connections) < 256:
                    connections.append(listener.accept()[0])
            listener.settimeout(0.2)
            waiting = list(filter(None, map(self._request, connections)))
            while waiting:  # a student submitted twice meanwhile: the later one in the next batch
                batch, later, students = [], [], set()
                for request in waiting:
                    ids = {submission.student_id for submission in request[1]}
                    if ids & students:
                        later.append(request)
                    else:
                        batch.append(request)
                        students |= ids
                self.reported = False
                self.grade(batch)
                waiting = later
            idle_since = time.monotonic()


def serve(out, source, workers, timeout, db_url, log, unsafe, options):
    """Set up OUT as `grade` does, then grade what clients submit until SIGTERM or Ctrl-C."""
    out = Path(out).resolve()
    writable(out)
    lock = submit.locked(out)
    if lock is None:
        raise SetupError(f"{out} is being graded or served already: wait until it is done, or stop it.")
    stop = threading.Event()

    def stopping(*args):
        log("stopping after the submissions under way")
        stop.set()
    previous = {signum: signal.signal(signum, stopping) for signum in (signal.SIGINT, signal.SIGTERM)}
    listener = None
    try:
        run = Grading(out, source, timeout, db_url, log, unsafe, options)
        earlier = []  # the class graded again when the source changed since the last run (as grade does)
        run.kept_by_hand = _follow_source_change(run.out, run.course, run.db_url, earlier, run.notebooks, log)
        run.check_sandbox()
        service = Service(run, workers or os.cpu_count() or 1, stop)
        try:
            service.pool.start()
            run.register()
            if earlier:
                todo = run.to_grade(earlier)
                log(f"Grading the {len(todo)} students graded before the source changed.")
                service.pool.grade(todo, run.record, _Quiet(), stop, run.crashed)
                _regrade_path(out).unlink(missing_ok=True)
            listener = _listen(out)
            log(f"Serving {run.assignment} at {out / submit.SOCKET} with {service.pool.workers} worker(s): "
                f"python -m autograder submit SUBMISSIONS --out {out}")
            service.serve(listener)
        except KeyboardInterrupt:
            pass
        finally:
            if listener is not None:
                listener.close()
                with contextlib.suppress(OSError):
                    os.unlink(out / submit.SOCKET)
            service.pool.close()
        if not service.reported:
            run.reports()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        shutil.rmtree(out / ".work", ignore_errors=True)
        os.close(lock)
    return 0


def main(args):
    try:
        sources = chosen_sources(args.assignment, args.source)
        if len(sources) != 1:
            raise SetupError(f"the course has {len(sources)} assignments: pass --assignment, the one to serve.")
        options = Options(due=args.due, late_policy=args.late_policy, roster_path=args.roster,
                          feedback=args.feedback)
        return serve(args.out, sources[0], args.workers, args.timeout, args.db, print, args.unsafe_no_sandbox,
                     options)
    except (SetupError, collect.CollectError, roster.RosterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
