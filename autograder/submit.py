"""`python -m autograder submit SUBMISSIONS --out OUT`: hand submissions to the grading service
that `python -m autograder serve --out OUT` keeps up, and wait for their results.

The service has imported everything, registered the assignment and started its workers (and
their fork servers) once; a submission then costs only its grading. This side imports nothing
of the grader's: it sends the path of the submissions (what `grade` takes: a folder, a .zip, an
LMS download) over OUT's socket and prints each student's score and results file.

OUT/.lock tells who works in OUT: a `serve` or a `grade` holds it alone, so that none removes
another's workers' files (OUT/.work) or sets up OUT's course beside it.
"""

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

SOCKET = "grader.sock"    # in OUT, the instructor's alone (0600)
LOCK = ".lock"
REQUEST_BYTES = 64 * 1024      # one JSON line from a client
REPLY_BYTES = 16 * 2 ** 20     # one JSON line from the service
WAIT_SECONDS = 3600            # default of --wait: a class of thousands takes long


class NotServed(RuntimeError):
    """No service answers at OUT."""


def locked(out):
    """An open file holding OUT/.lock alone, or None when a `grade` or a `serve` holds it."""
    fd = os.open(Path(out) / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def connect(out):
    """A socket connected to OUT's service, by a path relative to OUT (a Unix socket's path
    has at most 107 bytes; OUT's may have more)."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir(out)
        client.connect(SOCKET)
    except OSError as error:
        client.close()
        raise NotServed(f"no grading service answers at {out} ({error.strerror or error}): start one with "
                        f"`python -m autograder serve --out {out}`.") from None
    finally:
        os.fchdir(here)
        os.close(here)
    return client


class Lines:
    """The lines that come on a socket, each read with a limit and a deadline. What comes after a
    line in the same chunk is kept for the next one (the service's two replies can come at once)."""

    def __init__(self, connection):
        self.connection, self.rest = connection, bytearray()

    def read(self, limit, deadline):
        """One line (without its newline) of at most `limit` bytes, before `deadline` (monotonic);
        ValueError when it is longer, TimeoutError when it is late, EOFError when none comes."""
        data, self.rest = self.rest, bytearray()
        end = data.find(b"\n")
        while end < 0:
            if len(data) > limit:
                raise ValueError(f"a line longer than {limit} bytes")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no whole line in time")
            self.connection.settimeout(left)
            chunk = self.connection.recv(65536)
            if not chunk:
                raise EOFError("the other side closed the connection")
            end = chunk.find(b"\n")
            if end >= 0:
                end += len(data)
            data += chunk
        if end > limit:
            raise ValueError(f"a line longer than {limit} bytes")
        self.rest = data[end + 1:]
        return bytes(data[:end])


def submit(out, submissions, wait=WAIT_SECONDS):
    """The service's replies for `submissions` (a path), as they come: {"students": [...],
    "pages": "coming"} once the results files are written, then {"pages": "made"} once the
    feedback pages are; or {"error": ...}."""
    deadline = time.monotonic() + wait
    with connect(out) as client:
        client.sendall(json.dumps({"submissions": str(Path(submissions).resolve())}).encode() + b"\n")
        reply, lines = {"pages": "coming"}, Lines(client)
        try:
            while reply.get("pages") == "coming":
                reply = json.loads(lines.read(REPLY_BYTES, deadline))
                yield reply
        except TimeoutError:
            raise NotServed(f"the service at {out} did not answer in {wait} s; the submissions may still be "
                            f"graded (see {Path(out) / 'results'}).") from None
        except (EOFError, ConnectionError, ValueError):
            if "students" in reply:  # the results are written; the pages are owed
                raise NotServed(f"the service at {out} stopped before it made the feedback pages: submit again, "
                                f"and it grades the submissions again with their pages.") from None
            raise NotServed(f"the service at {out} stopped before it answered: submit again.") from None


def main(args):
    out = Path(args.out).resolve()
    if not Path(args.submissions).exists():
        print(f"error: {args.submissions} does not exist: pass a folder or a .zip of submissions.", file=sys.stderr)
        return 2
    try:
        # Each score as soon as it is known; the command ends once the feedback pages are made too.
        for reply in submit(out, args.submissions, args.wait):
            if reply.get("error"):
                print(f"error: {reply['error']}", file=sys.stderr)
                return 2
            for student in reply.get("students", []):
                print(f"{student['student']}: {student['score']:g} of {student['max_score']:g} points; "
                      f"{student['results']}", flush=True)
    except NotServed as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
