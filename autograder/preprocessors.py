"""nbgrader preprocessors we configure in place of nbgrader's own, one fix each."""

import os
import re
import resource
import shutil
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbgrader.preprocessors import DeduplicateIds, Execute, NbGraderPreprocessor
from traitlets import Integer

from . import hidden, probe, sandbox


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


# The support files of each working folder as nbgrader laid them out before its first notebook
# ran (nbgrader makes a new preprocessor for every notebook, so this lives here). The grading
# worker empties it between submissions.
LAYOUTS = {}


class ProbedExecute(Execute):
    """nbgrader's Execute, with verdicts for the hidden tests decided outside the kernel.

    Before a test cell whose hidden region calls `probe("<grade_id>", globals())` runs,
    its request (hidden inputs, correct dependencies; see autograder/probe.py) is
    written beside the notebook; after it ran, the reply is read and judged here with
    the reference. A failed verdict is appended to the cell as an error output, which
    is how nbgrader's SaveAutoGrades sees a failed test. The request and reply files
    exist only while that cell runs.
    """

    notebook_timeout = Integer(None, allow_none=True, help=(
        "Wall seconds for the whole notebook: cells that would start later are not run.")).tag(config=True)
    cell_cpu_seconds = Integer(None, allow_none=True, help=(
        "CPU seconds the kernel may use in one cell (an RLIMIT_CPU set before each cell).")).tag(config=True)

    def _folder(self):
        return Path(self.resources.get("metadata", {}).get("path") or ".")

    def _restore_layout(self, folder):
        """Each notebook starts in the folder as nbgrader laid it out: the support files
        (rnn_utils.py, ...) as they were before the first notebook ran, and nothing that
        student code wrote since (files, __pycache__, links)."""
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

    def _limit_cpu(self):
        """Before a cell: the kernel may use `cell_cpu_seconds` more CPU time, then SIGXCPU ends it."""
        try:
            fields = Path(f"/proc/{self._kernel_pid}/stat").read_text().rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) // os.sysconf("SC_CLK_TCK")
            _, hard = resource.prlimit(self._kernel_pid, resource.RLIMIT_CPU)
            soft = used + self.cell_cpu_seconds
            resource.prlimit(self._kernel_pid, resource.RLIMIT_CPU,
                             (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        except (OSError, ValueError, IndexError):
            pass  # the kernel is gone or not ours to limit: the wall-clock timeout still applies

    def preprocess(self, nb, resources=None, km=None):
        """Run the notebook with the probe beside it, in the worker's sandbox if there is one."""
        self.resources = resources
        folder = self._folder()
        self._restore_layout(folder)
        package = folder / "autograder"
        shutil.rmtree(package, ignore_errors=True)
        package.mkdir()
        (package / "__init__.py").write_text("")
        shutil.copy(Path(__file__).with_name("probe.py"), package / "probe.py")
        self._kernel_pid = None
        self._deaths = set()
        self._started = None  # the notebook's clock starts with its first cell, not the kernel's start-up
        if sandbox.current:
            sandbox.current.prepare(folder)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if sandbox.current:
                sandbox.current.clean_up(folder, self._kernel_pid)
            shutil.rmtree(package, ignore_errors=True)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self._kernel_pid is None and self.km is not None:
            self._kernel_pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if self._started is None:
            self._started = time.monotonic()
        if cell.cell_type == "code" and self.notebook_timeout and \
                time.monotonic() - self._started > self.notebook_timeout:
            message = f"not run: the notebook used up its {self.notebook_timeout} s."
            cell.outputs = [nbformat.v4.new_output("error", ename="NotebookTimeout", evalue=message,
                                                   traceback=[f"NotebookTimeout: {message}"])]
            return cell
        if cell.cell_type == "code" and self.cell_cpu_seconds and self._kernel_pid:
            self._limit_cpu()
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
        folder = self._folder() / probe.PROBE_DIR
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        if sandbox.current:
            sandbox.current.prepare(folder)  # the kernel (the sandbox user) writes its reply here
        probe.save(str(self._folder() / probe.request_stem(grade_id)), hidden.request(grade_id))
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            failure = self._verdict(grade_id)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if failure:
            ename, message = failure
            error = nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])
            if ename != INCOMPLETE:
                cell.outputs.insert(0, error)  # the verdict is what the student reads first
            elif not any(output.output_type == "error" for output in cell.outputs):
                cell.outputs.append(error)  # else the cell's own error (a timeout, say) says more
        return cell

    # nbclient binds execute_cell to the base class's coroutine: rebind it to ours.
    execute_cell = run_sync(async_execute_cell)

    def _verdict(self, grade_id):
        """None, or (ename, message) for the student."""
        stem = str(self._folder() / probe.reply_stem(grade_id))
        try:
            replies = probe.load(stem)
        except (OSError, ValueError, KeyError, IndexError, RecursionError):
            return INCOMPLETE, f"{hidden.split(grade_id)[0]}: the hidden tests did not complete."
        message = hidden.verdict(grade_id, replies)
        if message is None:
            return None
        return ("NotImplementedError" if message.endswith("is not implemented yet.") else "AssertionError"), message


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


class FeedbackOutputs(NbGraderPreprocessor):
    """In feedback, a test cell shows only its verdict: no traceback (it quotes hidden code)
    and no printed output (student code can print hidden inputs while the hidden tests run)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            cell.outputs = [nbformat.v4.new_output("error", ename=e.ename, evalue=e.evalue,
                                                   traceback=[f"{e.ename}: {e.evalue}"]) for e in errors[:1]]
        return cell, resources
