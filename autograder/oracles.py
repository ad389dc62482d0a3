"""The grader's end of the probe's oracles: it answers, with its reference functions, the
calls a student's function makes to the functions it depends on, while its test cell runs.

Each worker listens on a Unix socket in the request folder it binds read-only into its
sandboxes (autograder/probe.py's GraderLine connects to it). The probe used to carry
tables of the reference's answers into the kernel, where student code could read them
(the loss and the clipped gradients of a training step's hidden cases, a training run's
every step); now a kernel holds only the answers it asked for. A dependency is answered on
any arguments, as the function itself would be, so an answer is graded on correct
dependencies however it calls them (by keyword, twice on halves, one example at a time).

What may be asked (`Scope`): only while a probed test cell runs, only the dependencies of
that cell's function, and none whose own test cells in the notebook have not run yet: a
cell moved before them could otherwise ask for their answers on their hidden inputs (which
the kernel can read) and keep them for their own cells.

What comes in is a sandboxed kernel's: only the sandbox's user may connect; each call is read
after its length, whole within a deadline, within MAX_CALL_BYTES, parsed by probe.loads (which
counts before parsing); its arrays and lists may be no larger than the cell's own inputs
(the reference's work on them is then as small as theirs); one call is answered at a time,
parsing included, within the cell's time budget; a reference error comes back as its name
alone. When the cell ends its lines are closed, and what is still being answered is dropped.
"""

import os
import socket
import struct
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import hidden, probe

MAX_CALL_BYTES = 4 * 2 ** 20    # a call's text: the course's calls take kilobytes
MAX_VALUES = 2_000_000          # numbers in a call's arguments
BUDGET_SECONDS = 60.0           # the grader's time for one test cell's calls, all together
MESSAGE_SECONDS = 30.0          # a call arrives whole within this, once it has started
IDLE_SECONDS = 600.0            # a line the kernel keeps open without a call is closed after this
MAX_LINES = 8                   # lines open at once (a kernel uses one per test cell)


class Scope:
    """What the running test cell may ask, and what its calls have cost."""

    def __init__(self, assignment, allowed, largest):
        self.assignment, self.allowed, self.largest = assignment, frozenset(allowed), largest
        self.spent, self.open = 0.0, True
        self.lock = threading.Lock()  # one call at a time


class OracleServer:
    """Answers the oracles' calls of the kernels this worker starts (see the module docstring);
    `uid`: the user the sandbox runs kernels as (None: this process's)."""

    def __init__(self, folder, uid=None):
        self.path = Path(folder) / probe.SOCKET
        self.path.unlink(missing_ok=True)
        self.uids = {os.getuid(), uid if uid is not None else os.getuid()}
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)  # a socket's path has at most 107 bytes
        try:
            self.listener.bind(f"/proc/self/fd/{handle}/{probe.SOCKET}")
        finally:
            os.close(handle)
        os.chmod(self.path, 0o600)  # the sandbox's user alone (and SO_PEERCRED checked on each line)
        if uid is not None and os.getuid() == 0:
            os.chown(self.path, uid, -1)
        self.listener.listen(MAX_LINES)
        self._scope, self._lines = None, set()
        self._guard = threading.Lock()
        threading.Thread(target=self._accept, name="oracles", daemon=True).start()

    @contextmanager
    def scope(self, assignment, function, draw, pending=()):
        """While the test cell of `function` (of `assignment`, on the hidden inputs of `draw`) runs:
        answer its dependencies but `pending` (functions whose test cells in this notebook are still
        to run)."""
        allowed = set(assignment.dependencies[function]) - set(pending)
        self._scope = Scope(assignment, allowed, largest_inputs(assignment, function, draw))
        try:
            yield
        finally:
            scope, self._scope = self._scope, None
            scope.open = False
            with self._guard:
                lines = list(self._lines)
            for line in lines:  # a kernel still asking after its cell gets nothing more
                try:
                    line.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                if self.listener.fileno() < 0:
                    return  # closed
                time.sleep(0.1)  # EMFILE and the like: the next line may fare better
                continue
            try:
                if self._peer_uid(connection) not in self.uids:
                    connection.close()
                    continue
                with self._guard:
                    crowded = len(self._lines) >= MAX_LINES
                    if not crowded:
                        self._lines.add(connection)
                if crowded:
                    _send_quietly(connection, _refusal("the grader's lines are all busy"))
                    connection.close()
                    continue
                threading.Thread(target=self._serve, args=(connection,), daemon=True).start()
            except Exception:  # no thread could be started: the line is closed, the server goes on
                self._drop(connection)

    @staticmethod
    def _peer_uid(connection):
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", credentials)[1]

    def _drop(self, connection):
        with self._guard:
            self._lines.discard(connection)
        connection.close()

    def _serve(self, connection):
        try:
            while True:
                try:
                    text = _receive(connection, MAX_CALL_BYTES)
                except (OSError, ValueError, EOFError):
                    return
                probe.send(connection, self.answer(text))
        except OSError:
            return
        finally:
            self._drop(connection)

    def answer(self, text):
        """The text of the answer to the call `text` (a refusal, when it may not be answered)."""
        scope = self._scope
        if scope is None:
            return _refusal("no test cell that may call it is running")
        with scope.lock:
            if not scope.open:
                return _refusal("its test cell has ended")
            if scope.spent > BUDGET_SECONDS:
                return _refusal(f"this test cell's calls used up the {BUDGET_SECONDS:.0f} s the grader gives them")
            started = time.monotonic()
            try:
                return _answered(scope, text)
            finally:
                scope.spent += time.monotonic() - started


def _answered(scope, text):
    try:
        call = probe.loads(text.decode("ascii"), max_chars=MAX_CALL_BYTES, typed=True)
        name, args = call["name"], call["args"]
        if not isinstance(name, str) or not isinstance(args, list):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return _refusal("the call is not what the probe sends")
    if name not in scope.allowed:
        return _refusal(f"{name[:60]} may not be called in this test cell")
    if probe.count_values(args) > MAX_VALUES or largest(args) > scope.largest:
        return _refusal(f"{name} was called on arrays larger than this test's inputs")
    try:
        result, links = hidden.reference_call(scope.assignment, name, args)
        return probe.dumps({"result": result, "links": links}, max_depth=probe.CALL_DEPTH)
    except Exception as error:  # arguments no correct call passes: its name, never its text
        return _refusal(f"{name} raised {type(error).__name__} on these arguments")


def largest(value):
    """The largest dimension of an array, or length of a list or tuple, in `value` (0 for none)."""
    if isinstance(value, np.ndarray):
        return max(value.shape, default=0)
    if isinstance(value, (tuple, list)):
        return max([len(value)] + [largest(v) for v in value])
    if isinstance(value, dict):
        return max([largest(v) for v in value.values()], default=0)
    return 0


@lru_cache(maxsize=64)
def largest_inputs(assignment, function, draw):
    """The largest dimension or length among `function`'s own inputs, hidden (of the submission's
    `draw`) and visible: what its dependencies' calls may take (a call on parts of them, or on values
    made from them, never needs more)."""
    checks = assignment.checks
    visible = [checks.exercise_arguments(function, checks.example_inputs(**example),
                                         assignment.reference(checks.FEEDERS[function]) if function in checks.FEEDERS
                                         else None)
               for example in checks.EXAMPLES.values()]
    return largest(hidden.request(assignment, f"{function}_values", draw)["cases"] + visible)


def _receive(connection, limit):
    """One message, whole within MESSAGE_SECONDS once its first byte is in (a line may idle
    IDLE_SECONDS between messages)."""
    connection.settimeout(IDLE_SECONDS)
    first = connection.recv(1)
    if not first:
        raise EOFError("the other end closed the line")
    data = probe.receive(connection, limit, deadline=time.monotonic() + MESSAGE_SECONDS, first=first)
    connection.settimeout(MESSAGE_SECONDS)  # the answer goes out within this too
    return data


def _refusal(why):
    return probe.dumps({"error": why})


def _send_quietly(connection, text):
    try:
        connection.settimeout(1.0)
        probe.send(connection, text)
    except OSError:
        pass


_SERVERS = {}


def server_for(folder, uid=None):
    """The one server of the request folder `folder` (made on first use)."""
    key = (os.getpid(), str(Path(folder).resolve()))  # a forked worker has none of its parent's threads
    if key not in _SERVERS:
        _SERVERS[key] = OracleServer(folder, uid)
    return _SERVERS[key]
