"""The grader's end of the probe's oracles: it answers, with its reference functions, the
calls a student's function makes to the functions it depends on, while its test cell runs.

Each worker listens on a Unix socket in the request folder it binds read-only into its
sandboxes (autograder/probe.py's GraderLine connects to it). The probe used to carry
tables of the reference's answers into the kernel, where student code could read them
(the loss and the clipped gradients of a training step's hidden cases, a training run's
every step); now a kernel holds only the answers it asked for, and those only for a
dependency of the function whose test cell is running (`scope`): outside a probed cell,
and for any other function, the answer is a refusal. A dependency is answered on any
arguments, as the function itself would be, so an answer is graded on correct
dependencies however it calls them (by keyword, twice on halves, one example at a time).

What comes in is a sandboxed kernel's: each call is read after its length, within a size
limit, with a deadline, parsed by probe.loads (which counts before parsing); the reference
runs on at most MAX_VALUES numbers a call and for at most BUDGET_SECONDS a cell; an error of
the reference comes back as its name alone.
"""

import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from . import hidden, probe

MAX_CALL_BYTES = 64 * 2 ** 20   # a call's text
MAX_VALUES = 2_000_000          # numbers in a call's arguments: the course's shapes are far smaller
BUDGET_SECONDS = 60.0           # the reference's time for one test cell's calls, all together
IDLE_SECONDS = 600.0            # a line the kernel keeps open without a call is closed after this
MAX_LINES = 8                   # lines open at once (one kernel at a time uses one)


class OracleServer:
    """Answers the oracles' calls of the kernels this worker starts (see the module docstring)."""

    def __init__(self, folder):
        self.path = Path(folder) / probe.SOCKET
        self.path.unlink(missing_ok=True)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)  # a socket's path has at most 107 bytes
        try:
            self.listener.bind(f"/proc/self/fd/{handle}/{probe.SOCKET}")
        finally:
            os.close(handle)
        os.chmod(self.path, 0o666)  # the kernel runs as a user of its own (the folder is read-only to it)
        self.listener.listen(MAX_LINES)
        self._scope, self._spent = None, 0.0
        self._lines = threading.BoundedSemaphore(MAX_LINES)
        threading.Thread(target=self._accept, name="oracles", daemon=True).start()

    @contextmanager
    def scope(self, assignment, function):
        """While the test cell of `function` (of `assignment`) runs: answer its dependencies."""
        self._scope, self._spent = (assignment, frozenset(assignment.dependencies[function])), 0.0
        try:
            yield
        finally:
            self._scope = None

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            if not self._lines.acquire(blocking=False):
                connection.close()
                continue
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        try:
            with connection:
                connection.settimeout(IDLE_SECONDS)
                while True:
                    try:
                        text = probe.receive(connection, MAX_CALL_BYTES)
                    except (OSError, ValueError, EOFError):
                        return
                    probe.send(connection, self.answer(text))
        except OSError:
            return
        finally:
            self._lines.release()

    def answer(self, text):
        """The text of the answer to the call `text` (a refusal, when it may not be answered)."""
        scope = self._scope
        if scope is None:
            return _refusal("no test cell that may call it is running")
        assignment, allowed = scope
        try:
            call = probe.loads(text.decode("ascii"), max_chars=MAX_CALL_BYTES, typed=True)
            name, args = call["name"], call["args"]
            if not isinstance(name, str) or not isinstance(args, list):
                raise ValueError
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return _refusal("the call is not what the probe sends")
        if name not in allowed:
            return _refusal(f"{name[:60]} is not a function this test cell's function calls")
        if probe.count_values(args) > MAX_VALUES:
            return _refusal(f"{name} was called with more than {MAX_VALUES} numbers")
        if self._spent > BUDGET_SECONDS:
            return _refusal(f"this test cell's calls used up the {BUDGET_SECONDS:.0f} s the grader gives them")
        started = time.monotonic()
        try:
            result, links = hidden.reference_call(assignment, name, args)
            return probe.dumps({"result": result, "links": links}, max_depth=probe.CALL_DEPTH)
        except Exception as error:  # arguments no correct call passes: its name, never its text
            return _refusal(f"{name} raised {type(error).__name__} on these arguments")
        finally:
            self._spent += time.monotonic() - started


def _refusal(why):
    return probe.dumps({"error": why})


_SERVERS = {}


def server_for(folder):
    """The one server of the request folder `folder` (made on first use)."""
    key = (os.getpid(), str(Path(folder).resolve()))  # a forked worker has none of its parent's threads
    if key not in _SERVERS:
        _SERVERS[key] = OracleServer(folder)
    return _SERVERS[key]
