"""nbgrader preprocessors we configure in place of nbgrader's own, one fix each."""

import asyncio
import collections
import functools
import html
import json
import os
import queue
import re
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import jinja2
import nbformat
import sqlalchemy
import zmq
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (ClearHiddenTests, DeduplicateIds, Execute, NbGraderPreprocessor, OverwriteCells,
                                    SaveAutoGrades)
from traitlets import Bool, Integer, Unicode

from . import hidden, oracles, probe, reference, sandbox, warm


class _SchemaCheckedOnce:
    """jsonschema as nbgrader's metadata validator uses it, with `validate` checking the schema
    itself once, not for every cell of every notebook (jsonschema.validate does, and it was a
    third of registering the assignment and 0.1 s of every submission). The cell is validated
    as before, and raises the same error (jsonschema's best match)."""

    def __init__(self, module):
        self._module, self._validators = module, {}

    def validate(self, instance, schema):
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._module.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = self._module.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name):
        return getattr(self._module, name)


def check_schemas_once():
    """Make nbgrader's CheckCellMetadata (all its pipelines: generate_assignment, autograde)
    check the metadata schema once per process. No configuration reaches this: nbgrader calls
    jsonschema.validate from its format module."""
    from nbgrader.nbgraderformat import common
    if not isinstance(common.jsonschema, _SchemaCheckedOnce):
        common.jsonschema = _SchemaCheckedOnce(common.jsonschema)


@functools.lru_cache(maxsize=None)
def gradebook_engine(db_url, **options):
    """One SQLAlchemy engine per gradebook URL (and options) in this process: SQLAlchemy's cache of
    compiled statements is the engine's. NullPool: no connection stays open between two
    transactions, as with nbgrader's own engines (its Gradebook disposes of them on close)."""
    return sqlalchemy.create_engine(db_url, poolclass=sqlalchemy.pool.NullPool, **options)


def one_engine_per_gradebook():
    """Make nbgrader's Gradebook (in this process) open its database with `gradebook_engine`.
    nbgrader makes a new engine for every Gradebook it opens, several per notebook graded, so
    SQLAlchemy compiled every query again each time: 0.1 s a notebook. Set in the processes that
    grade and make pages, where every Gradebook is nbgrader's and opened one after another."""
    from nbgrader import api
    api.create_engine = gradebook_engine


class DropDuplicateIds(DeduplicateIds):
    """Like nbgrader's DeduplicateIds (the last cell with a grade_id keeps it), but the
    earlier copies lose their nbgrader metadata entirely. nbgrader sets it to {} instead,
    which its schema check then rejects as "an old version of the metadata format",
    aborting the whole student (and, in a plain `nbgrader autograde`, the batch)."""

    def preprocess_cell(self, cell, resources, cell_index):
        meta = cell.metadata.get("nbgrader")
        if not meta or not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            return cell, resources
        if meta.get("grade_id") in self.grade_ids:
            self.log.warning("Cell with id '%s' exists multiple times: keeping the last one", meta.get("grade_id"))
            del cell.metadata["nbgrader"]
        else:
            self.grade_ids.add(meta.get("grade_id"))
        return cell, resources


class RestoreMissingCells(OverwriteCells):
    """nbgrader's OverwriteCells with its `add_missing_cells` on, placing each missing grade cell
    after the nearest earlier cell of the source that the notebook still has. A test cell can
    be missing because the student deleted it or because the instructor added it after the
    student submitted: either way the test is run on the student's code, never scored 0 for
    being absent. (nbgrader's own placement looks only at the one source cell just before, and
    fails the notebook when that is a locked markdown cell, as ours usually are.)"""

    add_missing_cells = Bool(True).tag(config=True)
    missing_cell_notification = Unicode(
        "This cell ({cell_id}) was missing from the submitted notebook (deleted, or added to the "
        "assignment later): the grader put it back.\n\n").tag(config=True)

    def preprocess(self, nb, resources):
        self._source_cells = None  # this notebook's, read once (one query, not one a cell)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        self._as_released = self._is_as_released(cell)
        return super().preprocess_cell(cell, resources, cell_index)

    def _is_as_released(self, cell):
        """Whether a locked cell is exactly as the release has it: the source cell less its hidden
        tests. Its checksum always differs from the source's (the hidden tests are what differ)."""
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            return False
        if self._source_cells is None:
            try:
                notebook = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
            except MissingEntry:
                return False
            self._source_cells = {source.name: (source.cell_type, source.source) for source in notebook.source_cells}
        if grade_id not in self._source_cells:
            return False
        cell_type, text = self._source_cells[grade_id]
        # Not nbformat.v4.new_*_cell, which validates each new cell against the schema (a third
        # of this check's time): checksums read the type, the source and nbgrader's metadata.
        released = nbformat.from_dict({"cell_type": cell_type, "source": text, "metadata": {}, "outputs": [],
                                       "execution_count": None})
        released.metadata["nbgrader"] = dict(cell.metadata.get("nbgrader", {}))
        ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(released)
        return cell.cell_type == cell_type and utils.compute_checksum(cell) == utils.compute_checksum(released)

    def report_change(self, name, attr, old, new):
        """nbgrader warns that a checksum changed for every test cell with hidden tests, untouched
        or not (putting the hidden tests back is what changes it): only an edited cell is news."""
        if attr == "checksum" and self._as_released:
            self.log.debug("Hidden tests of %s put back", name)
        else:
            super().report_change(name, attr, old, new)

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [cell.name for cell in source_nb.source_cells]
        solutions = {cell.name for cell in source_nb.solution_cells}
        for name, grade_cell in {cell.name: cell for cell in source_nb.grade_cells}.items():
            present = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
            if name in present or name not in order:
                continue
            self.log.warning("Missing grade cell %s: put back", name)
            # after the nearest earlier cell that is there; with none (all metadata stripped), last:
            # a test runs after the code it tests
            earlier = [n for n in order[:order.index(name)] if n in present]
            index = len(present) - present[::-1].index(earlier[-1]) if earlier else len(present)
            nb.cells.insert(index, self.missing_cell_transform(source_nb.source_cells[order.index(name)],
                                                               grade_cell.max_score, is_solution=name in solutions))
        return nb, resources


# The support files of each working folder as nbgrader laid them out before its first notebook
# ran (nbgrader makes a new preprocessor for every notebook, so this lives here). The grading
# worker empties it between submissions.
LAYOUTS = {}


class ProbedExecute(Execute):
    """nbgrader's Execute, with verdicts for the hidden tests decided outside the kernel.

    Before the kernel starts, the requests of the notebook's probed test cells (hidden
    inputs, drawn for this submission, and the functions each depends on; see
    autograder/probe.py) are written to the sandbox's read-only request folder; while a
    probed cell runs, autograder/oracles.py answers its dependencies' calls. The probe publishes its reply as a display message of its
    own type; it is taken out of the cell (never kept in the notebook) and judged here
    with the reference. A failed verdict is appended to the cell as an error output, which
    is how nbgrader's SaveAutoGrades sees a failed test. What a cell prints is kept up to
    `max_output_chars`; IOPub messages larger than `max_message_bytes` are dropped unread.
    """

    notebook_timeout = Integer(None, allow_none=True, help=(
        "Wall seconds for the whole notebook: cells that would start later are not run.")).tag(config=True)
    cell_cpu_seconds = Integer(None, allow_none=True, help=(
        "CPU seconds the kernel may use in one cell (an RLIMIT_CPU set before each cell).")).tag(config=True)
    max_output_chars = Integer(1_000_000, help=(
        "Characters of output kept per cell; the rest is replaced by a note.")).tag(config=True)
    max_message_bytes = Integer(32 * 2 ** 20, help=(
        "Largest part of a kernel's message that is parsed; a larger one is dropped unread.")).tag(config=True)
    sandbox = Bool(True, help=(
        "Run kernels in the sandbox (autograder/sandbox.py); False is --unsafe-no-sandbox.")).tag(config=True)
    raise_on_iopub_timeout = Bool(False, help=(
        "An output dropped for its size may take the cell's idle message with it: go on.")).tag(config=True)

    def _folder(self):
        return Path(self.resources.get("metadata", {}).get("path") or ".")

    def _restore_layout(self, folder):
        """Each notebook starts in the folder as nbgrader laid it out: the support files
        (rnn_utils.py, ...) as they were before the first notebook ran, and nothing that
        student code wrote since (only a kernel without a sandbox writes here at all)."""
        def support_files():
            return [p for p in folder.rglob("*") if (p.is_file() or p.is_symlink()) and p.suffix != ".ipynb"]
        layout = LAYOUTS.get(folder)
        if layout is None:
            LAYOUTS[folder] = {p.relative_to(folder): p.read_bytes() for p in support_files() if not p.is_symlink()}
            return
        for path in support_files():
            if path.relative_to(folder) not in layout or path.is_symlink():
                path.unlink()
        for relative, data in layout.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)

    async def _watch_cpu(self):
        """During a cell: end the kernel once its sandbox (with a cgroup: all its processes; else
        the kernel's own process) has used `cell_cpu_seconds` of CPU time in it. Polled from here:
        lowering the kernel's RLIMIT_CPU from outside needs CAP_SYS_RESOURCE, which a root in a
        container may lack, and a limit the kernel sets itself it could raise again."""
        if self._kernel_process[0] != self._kernel_pid:  # found once per kernel (cold: a scan of /proc)
            warm = getattr(getattr(self.km, "provisioner", None), "kernel_pid", None)
            self._kernel_process = (self._kernel_pid, warm or sandbox.kernel_process(self._kernel_pid))
        pid = self._kernel_process[1]
        cgroup = self._box.cgroup

        def used_now():
            return cgroup.cpu_seconds() if cgroup else _cpu_seconds(pid)
        start = used_now()
        if start is None:
            return
        while True:
            await asyncio.sleep(CPU_POLL_SECONDS)
            used = used_now()
            if used is None:
                return
            if used - start > self.cell_cpu_seconds:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                return

    def _assignment_of(self, resources, grade_id):
        """The assignment graded: nbgrader's (its source folder in the course), else the course's
        assignment that declares `grade_id` (a notebook run outside an nbgrader course)."""
        name = ((resources or {}).get("nbgrader") or {}).get("assignment")
        course = self.config.CourseDirectory
        if name:
            return reference.of(Path(course.root if "root" in course else ".") / "source" / name)
        return hidden.assignment_of(grade_id)

    def _draw_of(self, resources):
        """The draw of the hidden inputs of the submission graded (hidden.submission_draw): of its
        files as nbgrader's submitted folder holds them, under the key of the course whose source/
        holds the assignment (made there on first use). Every notebook of the submission gets the
        same one, and so does grading it again. Outside an nbgrader course's autograde (no student,
        as tests/test_limits.py runs it), hidden.FIXED."""
        meta = (resources or {}).get("nbgrader") or {}
        if not (meta.get("student") and meta.get("assignment")) or self._assignment is None:
            return hidden.FIXED
        course = CourseDirectory(config=self.config)
        submitted = course.format_path(course.submitted_directory, meta["student"], meta["assignment"])
        key = hidden.course_key(self._assignment.source.parent.parent)
        return hidden.submission_draw(key, hidden.folder_files(submitted))

    def preprocess(self, nb, resources=None, km=None):
        """Run the notebook in this process's sandbox (made here for a plain `nbgrader autograde`)."""
        self.resources = resources
        # What the grader alone writes there ("could not be graded", where visible outputs start)
        # is never taken from the student's file.
        nb.metadata.pop("autograder", None)
        for cell in nb.cells:
            cell.metadata.pop("autograder", None)
        folder = self._folder()
        self._restore_layout(folder)
        box = self._box = sandbox.current or sandbox.for_this_process(unsafe=not self.sandbox)
        box.kernel_config(self.config)
        box.prepare(folder)
        self.shutdown_kernel = "immediate"
        probed = list(filter(None, map(probed_grade_id, nb.cells)))
        self._assignment = self._assignment_of(resources, probed[0]) if probed else None
        self._draw = self._draw_of(resources)
        box.write_requests({grade_id: request_text(self._assignment, grade_id, self._draw) for grade_id in probed})
        self._oracles = oracles.server_for(box.requests, box.uid)  # answers the probe's oracles in test cells
        # Test cells still to run, by function: their answers are not given to a cell moved before them.
        self._pending = collections.Counter(hidden.split(self._assignment, grade_id)[0] for grade_id in probed)
        self._kernel_pid, self._kernel_process = None, (None, None)
        self._deaths = set()
        self._probing, self._reply, self._kept = None, None, 0
        self._started = None  # the notebook's clock starts with its first cell, not the kernel's start-up
        try:
            with box.in_use():
                return super().preprocess(nb, resources, km)
        finally:
            box.clean_up(self._kernel_pid)
            box.write_requests({})

    async def async_start_new_kernel_client(self):
        # A message part larger than the limit is not parsed: it becomes a note of its size.
        make_client, limit = self.km.client, self.max_message_bytes

        def limited_client(**kwargs):
            client = make_client(**kwargs)
            # The client connects before the kernel listens; zmq tries again every 100 ms by
            # default, so each kernel was ready 85 ms after it could have been (measured: its
            # first reply 0.137 s after the fork, 0.053 s with this).
            client.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
            unpack = client.session.unpack
            client.session.unpack = lambda data: unpack(data) if len(data) <= limit else {CUT: len(data)}
            client.wait_for_ready = functools.partial(wait_for_ready, client)
            return client
        self.km.client = limited_client
        return await super().async_start_new_kernel_client()

    # nbclient's setup_kernel calls start_new_kernel_client, bound to the base class's coroutine:
    # rebound to ours (without, neither the message limit nor the faster readiness wait applied).
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def process_message(self, msg, cell, cell_index):
        """Take the probe's reply out of the cell; keep at most `max_output_chars` of the rest."""
        content, kind = msg.get("content", {}), msg.get("msg_type")
        data = content.get("data") if isinstance(content.get("data"), dict) else {}
        if probe.REPLY_MIME in data:
            metadata = content.get("metadata") if isinstance(content.get("metadata"), dict) else {}
            if self._probing and metadata.get("grade_id") == self._probing:
                self._reply = data[probe.REPLY_MIME]
                self._visible_from = len(cell.outputs)  # what the cell prints next is the visible tests'
            return None
        if kind in ("stream", "display_data", "execute_result", "error", "update_display_data"):
            size = content[CUT] if CUT in content else len(str(content.get("text", ""))) + \
                sum(len(str(v)) for v in data.values()) + sum(len(str(line)) for line in content.get("traceback", []))
            self._kept += size
            if self._kept > self.max_output_chars or CUT in content:
                if self._kept - size <= self.max_output_chars:
                    cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stderr", text=f"[output cut: more than {self.max_output_chars} characters]\n"))
                return None
        return super().process_message(msg, cell, cell_index)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self._kernel_pid is None and self.km is not None:
            self._kernel_pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if self._started is None:
            self._started = time.monotonic()
        self._kept = 0
        if cell.cell_type == "code" and self.notebook_timeout and \
                time.monotonic() - self._started > self.notebook_timeout:
            message = f"not run: the notebook used up its {self.notebook_timeout} s."
            cell.outputs = [nbformat.v4.new_output("error", ename="NotebookTimeout", evalue=message,
                                                   traceback=[f"NotebookTimeout: {message}"])]
            return cell
        watch = asyncio.ensure_future(self._watch_cpu()) \
            if cell.cell_type == "code" and self.cell_cpu_seconds and self._kernel_pid else None
        try:
            return await self._execute_probed(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            # The kernel died in this cell (a crash, os._exit, exhausted memory). nbgrader would
            # fail the rest of the notebook; we score this cell 0 and carry on in a new kernel
            # with the earlier cells replayed, so that the other answers keep their points.
            self._deaths.add(cell_index)
            if len(self._deaths) > MAX_RESTARTS:
                raise
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="KernelDied", evalue=KERNEL_DIED, traceback=[f"KernelDied: {KERNEL_DIED}"])]
            await self._restart(cell_index)
            return cell
        finally:
            if watch:
                watch.cancel()

    async def _async_poll_kernel_alive(self):
        """nbclient looks whether the kernel lives once a second; here its end is waited for (a
        pidfd becomes readable when the process ends: the warm kernel, or a cold kernel's sandbox),
        so a kernel that dies in a cell costs milliseconds, not up to a second, before the cell is
        scored and a new kernel starts. Still checked once a second, as nbclient does."""
        provisioner = getattr(self.km, "provisioner", None)
        ended = warm.pidfd(getattr(provisioner, "kernel_pid", None) or getattr(provisioner, "pid", None))
        try:
            while True:
                await (_readable(ended, 1) if ended is not None else asyncio.sleep(1))
                try:
                    await self._async_check_alive()
                except DeadKernelError:
                    self.task_poll_for_reply.cancel()
                    return
        finally:
            if ended is not None:
                os.close(ended)

    async def _restart(self, cell_index):
        await ensure_async(self.km.restart_kernel(now=True))
        self._kernel_pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        for index, earlier in enumerate(self.nb.cells[:cell_index]):
            if earlier.cell_type == "code" and index not in self._deaths and earlier.source.strip():
                msg_id = await ensure_async(self.kc.execute(earlier.source, silent=True, store_history=False))
                try:
                    await self.async_wait_for_reply(msg_id, earlier)
                except Exception:  # a replayed cell that fails failed the first time too
                    pass

    async def _execute_probed(self, cell, cell_index, execution_count, store_history):
        grade_id = probed_grade_id(cell)
        if grade_id is None:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        self._probing, self._reply, self._visible_from = grade_id, None, None
        function = hidden.split(self._assignment, grade_id)[0]
        pending = {name for name, left in self._pending.items() if left}
        try:
            with self._oracles.scope(self._assignment, function, self._draw, pending):
                cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            self._probing = None
            self._pending[function] -= 1
        failure = self._verdict(grade_id)
        visible_from = self._visible_from
        if failure:
            ename, message = failure
            error = nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])
            # The verdict is what the student reads first, before anything the cell printed (a note
            # that its output was cut, say). Hidden tests that did not complete leave the cell's own
            # error, where it has one (a timeout, say): it says more.
            if ename != INCOMPLETE or not any(output.output_type == "error" for output in cell.outputs):
                cell.outputs.insert(0, error)
                visible_from = None if visible_from is None else visible_from + 1
        # Where the visible tests' outputs start (feedback shows them, never what the hidden tests
        # made student code print); None when the probe did not reply. Set on every probed cell,
        # so a value the student wrote into the metadata never counts.
        cell.metadata["autograder"] = {"visible_outputs_from": visible_from}
        return cell

    # nbclient binds execute_cell to the base class's coroutine: rebind it to ours.
    execute_cell = run_sync(async_execute_cell)

    def _verdict(self, grade_id):
        """None, or (ename, message) for the student."""
        try:
            replies = probe.loads(self._reply)
        except ValueError:
            return INCOMPLETE, f"{grade_id.rpartition('_')[0]}: the hidden tests did not complete."
        message = hidden.verdict(self._assignment, grade_id, replies, self._draw)
        if message is None:
            return None
        return ("NotImplementedError" if message.endswith("is not implemented yet.") else "AssertionError"), message


class SaveAutoGradesAtOnce(SaveAutoGrades):
    """nbgrader's SaveAutoGrades (its scores, its rules for a cell graded by hand or waiting for
    one), on the student's grade and comment rows the caller holds (StudentRows) and writes in
    the batch's one transaction. nbgrader's commits after every cell (sixty commits a student,
    and a kill between two of them left a student half recorded) and looks each row up with a
    query of its own."""

    def preprocess(self, nb, resources, rows=None):
        """`rows`: the student's StudentRows; without, nbgrader's own way."""
        if rows is None:
            return super().preprocess(nb, resources)
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.gradebook = rows
        return NbGraderPreprocessor.preprocess(self, nb, resources)


class StudentRows:
    """What SaveAutoGrades asks of a gradebook, on a student's grade and comment rows the caller
    holds ({(notebook, cell name): row}) and writes once: nbgrader's Gradebook looked each row up
    with a query of its own and committed after every cell."""

    def __init__(self, grades, comments):
        self.db = SimpleNamespace(commit=lambda: None)
        self._grades, self._comments = grades, comments

    def find_grade(self, grade_id, notebook_id, assignment_id, student_id):
        return self._found(self._grades, "grade", grade_id, notebook_id, student_id)

    def find_comment(self, comment_id, notebook_id, assignment_id, student_id):
        return self._found(self._comments, "comment", comment_id, notebook_id, student_id)

    @staticmethod
    def _found(rows, kind, cell, notebook, student):
        try:
            return rows[(notebook, cell)]
        except KeyError:  # as nbgrader's find_grade: a cell the assignment has not got
            raise MissingEntry(f"No such {kind}: {student}/{notebook}/{cell}") from None


async def wait_for_ready(client, timeout=None):
    """jupyter_client's wait_for_ready without its idle waits: the kernel is ready when it has
    answered kernel_info on the shell channel and IOPub is connected (a message of that request
    arrives there). jupyter_client waits 0.2 s for an IOPub message, and a subscription not yet
    made loses the first request's: it then asks again, 0.4 s in all. Asking again every 10 ms
    takes as long as the connection does."""
    deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
    while time.monotonic() < deadline:
        client.kernel_info()
        try:
            reply = await ensure_async(client.shell_channel.get_msg(timeout=min(1.0, deadline - time.monotonic())))
        except queue.Empty:
            reply = None
        if reply and reply.get("msg_type") == "kernel_info_reply":
            try:
                await ensure_async(client.iopub_channel.get_msg(timeout=0.01))
            except queue.Empty:
                continue
            client._handle_kernel_info_reply(reply)
            return
        if not await ensure_async(client.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")


@functools.lru_cache(maxsize=64)
def request_text(assignment, grade_id, draw):
    """The request of `grade_id` of `assignment`, on the hidden inputs of `draw`, as the probe reads
    it. Kept for the submission graded (a notebook nbgrader grades again alone), never served to
    another: theirs has a draw of its own."""
    return probe.dumps(hidden.request(assignment, grade_id, draw), max_depth=REQUEST_DEPTH)


def _cpu_seconds(pid):
    """CPU seconds (user + system) process `pid` has used, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _readable(fd, seconds):
    """Return when `fd` is readable or after `seconds`, whichever is first."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, seconds)
    except asyncio.TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)


CPU_POLL_SECONDS = 0.25
RECONNECT_MS = 5  # how soon a kernel client tries again to reach a kernel that does not listen yet
REQUEST_DEPTH = 32  # hidden inputs: caches of tuples of dicts
CUT = "autograder_cut"  # what stands for a message part too large to parse
INCOMPLETE = "HiddenTestsIncomplete"
KERNEL_DIED = "the kernel died while running this cell (a crash, os._exit, exhausted memory or CPU time)."
MAX_RESTARTS = 5  # notebook 3's gradient checks call the functions its tests call
PROBE_CALL = re.compile(r'^\s*from autograder\.probe import probe; probe\("(\w+)", globals\(\)\)\s*$', re.M)


def probed_grade_id(cell):
    """The grade_id a graded cell's probe call names, or None."""
    meta = cell.metadata.get("nbgrader", {})
    if cell.cell_type != "code" or not meta.get("grade"):
        return None
    match = PROBE_CALL.search(cell.source)
    return match.group(1) if match and match.group(1) == meta.get("grade_id") else None


# How the tests name a known mistake (autograder/mistakes.py): "... Known mistake: <name>. <what to do>"
HINT = re.compile(r"\s*(Known mistake: .*)\Z", re.S)
KNOWN_MISTAKE = re.compile(r"Known mistake: ([^.]+)\.")
HINT_MIME = "text/html"


def split_hint(message):
    """(the message, the hint that names a known mistake or ""): the student reads them in this order."""
    found = HINT.search(message)
    return (message[:found.start()], found.group(1)) if found else (message, "")


class FeedbackOutputs(NbGraderPreprocessor):
    """In feedback, a test cell shows its verdict, then the hint of a known mistake it names, then
    what the visible tests printed (their values on the public example). Never a traceback (it
    quotes hidden code) nor what student code printed while the hidden tests ran (it can print
    hidden inputs): only the outputs after the probe's reply (ProbedExecute marks where they
    start), at most `max_printed_chars` of them."""

    max_printed_chars = Integer(5000).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("grade"):
            return cell, resources
        errors = [o for o in cell.outputs if o.output_type == "error"]
        outputs = []
        if errors:
            message, hint = split_hint(ANSI_CODES.sub("", str(errors[0].evalue)))
            outputs.append(nbformat.v4.new_output("error", ename=errors[0].ename, evalue=message,
                                                  traceback=[f"{errors[0].ename}: {message}"]))
            if hint:
                outputs.append(nbformat.v4.new_output("display_data", data={HINT_MIME: (
                    '<div class="autograder-hint">' + html.escape(hint, quote=False) + "</div>")}))
        start = (cell.metadata.get("autograder") or {}).get("visible_outputs_from")
        if probed_grade_id(cell) and isinstance(start, int) and start >= 0:
            printed = []
            for output in cell.outputs[start:]:
                if output.output_type == "stream":
                    printed.append(ANSI_CODES.sub("", str(output.text)))
                elif output.output_type == "error" and not (errors and output is errors[0]):
                    printed.append(ANSI_CODES.sub("", f"{output.ename}: {output.evalue}") + "\n")
            text = "".join(printed)
            if len(text) > self.max_printed_chars:
                text = text[:self.max_printed_chars] + "\n[cut]\n"
            if text.strip():
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        cell.outputs = outputs
        return cell, resources


ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class FeedbackSummary(NbGraderPreprocessor):
    """What the top of a feedback page says (rendered by autograder/templates/feedback/): the
    score of each notebook of the assignment, the tests failed (with links to their cells) and the
    known mistakes they name; for a notebook that could not be graded, why. Scores come from the
    gradebook, so a grade changed in formgrader shows after `nbgrader generate_feedback`."""

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        mistakes = {}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            for output in cell.get("outputs", []):
                if output.output_type == "error" and grade_id:
                    mistakes[grade_id] = KNOWN_MISTAKE.findall(str(output.evalue))[:1]
                    break
        anchors = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells}
        notebooks, failed = [], []
        with Gradebook(meta["db_url"]) as gb:
            submission = gb.find_submission(meta["assignment"], meta["student"])
            order = {n.name: i for i, n in enumerate(gb.find_assignment(meta["assignment"]).notebooks)}
            for notebook in sorted(submission.notebooks, key=lambda n: (order.get(n.name, 0), n.name)):
                here = notebook.name == meta["notebook"]
                page = "" if here else f"{notebook.name}.html"
                notebooks.append({"name": notebook.name, "href": page or "#top", "current": here,
                                  "score": float(notebook.score or 0), "max_score": float(notebook.max_score or 0)})
                cells = {cell.name: i for i, cell in enumerate(notebook.notebook.source_cells)}
                for grade in sorted(notebook.grades, key=lambda g: cells.get(g.name, 0)):
                    score = float(grade.score or 0)
                    if grade.max_score and score < grade.max_score:
                        failed.append({"notebook": notebook.name, "grade_id": grade.name,
                                       # a cell this page lacks (a stand-in's): the summary itself
                                       "href": f"{page}#{grade.name}" if page or grade.name in anchors
                                       else "#autograder-summary", "score": score,
                                       "max_score": float(grade.max_score),
                                       "mistake": (mistakes.get(grade.name) or [""])[0] if here else "",
                                       "pending": grade.auto_score is None and grade.manual_score is None})
        problem = (nb.metadata.get("autograder") or {}).get("problem")
        resources["autograder"] = {"notebooks": notebooks, "failed": failed,
                                   "problem": str(problem) if problem else ""}
        return nb, resources


class _TemplateCode(jinja2.BytecodeCache):
    """Compiled templates, kept in memory for the life of the process (Jinja's own bytecode-cache
    hook; a bucket whose template's source changed is compiled again)."""

    def __init__(self):
        self._stored = {}

    def load_bytecode(self, bucket):
        if bucket.key in self._stored:
            bucket.bytecode_from_string(self._stored[bucket.key])

    def dump_bytecode(self, bucket):
        self._stored[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _TemplateCode()
# nbconvert's HTMLExporter gives images without alternative text this one, after a second parse
# of the whole page (FeedbackPage gives it without the parse). An <img is a tag in the rendered
# page: in text, nbconvert's templates and markdown escape the "<".
IMAGE_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)([^>]*?)(\s*/?)>", re.I)
NO_ALT_TEXT = r'<img\1 alt="No description has been provided for this image"\2>'


class FeedbackPage(HTMLExporter):
    """nbgrader's feedback exporter (nbconvert's HTMLExporter) made cheaper, page for page the same:
    - its templates are compiled once per process, not once per generate_feedback run (nbgrader
      makes a new exporter, so a new Jinja environment, every run: 0.15 s a page);
    - the page is not parsed again with BeautifulSoup after rendering (0.1-0.2 s a page). The parse
      gives images their alt text, done here on the text, and sets tabindex on JupyterLab's
      cell classes, which the classic template nbgrader's feedback extends does not use."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATE_CODE
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        # HTMLExporter.from_notebook_node up to its BeautifulSoup parse (nbconvert 7)
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type",
                             WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                   resources=resources))
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return IMAGE_WITHOUT_ALT.sub(NO_ALT_TEXT, page), resources
