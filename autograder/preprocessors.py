"""nbgrader preprocessors we configure in place of nbgrader's own, one fix each."""

import os
import re
import shutil
from pathlib import Path

import nbformat
from nbclient.util import run_sync
from nbgrader.preprocessors import DeduplicateIds, Execute, NbGraderPreprocessor

from . import hidden, probe


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


class ProbedExecute(Execute):
    """nbgrader's Execute, with verdicts for the hidden tests decided outside the kernel.

    Before a test cell whose hidden region calls `probe("<grade_id>", globals())` runs,
    its request (hidden inputs, correct dependencies; see autograder/probe.py) is
    written beside the notebook; after it ran, the reply is read and judged here with
    the reference. A failed verdict is appended to the cell as an error output, which
    is how nbgrader's SaveAutoGrades sees a failed test. The request and reply files
    exist only while that cell runs.
    """

    def _folder(self):
        return Path(self.resources.get("metadata", {}).get("path") or ".")

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        grade_id = probed_grade_id(cell)
        if grade_id is None:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        folder = self._folder() / probe.PROBE_DIR
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o777)
        os.chmod(folder, 0o777)  # the kernel may run as another user (sandbox) and writes its reply here
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
