"""Grading on a Dask cluster (`grade --scheduler ADDRESS`): one submission in, one result out.

The coordinator packs what a worker needs into one bundle (the course's source folder
and the template gradebook, as a zip), scatters it to every Dask worker once, and
submits one task per submission. A task unpacks the bundle on first use into a private
course on that worker (see worker.Worker: the same sandbox, the same nbgrader runs as
the local pool) and returns the result as data (scores come from the autograded
notebooks, results and feedback HTML travel in it), so workers need no shared disk;
the coordinator alone writes the gradebook and OUT.

A worker lost mid-grading (killed, cut off) makes the scheduler run the task again
elsewhere; the coordinator consumes each task's future once, so a student gets exactly
one result. A submission that keeps killing workers ends as "the grading process crashed".
Run Dask workers with one thread each (`dask worker ADDRESS --nthreads 1`): a grading
worker sets its process's environment for its kernels (see sandbox.Sandbox.use).
"""

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

# The grading worker of this Dask worker process, for one bundle: (key, worker.Worker, folder).
# One at a time: a worker's sandbox is this process's (sandbox.current, the environment).
_CURRENT = None
# Where bundles unpack: the temporary folder as it was before any sandbox set its own.
_TMP = tempfile.gettempdir()


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be used: nothing can be graded there."""


def bundle(course_source, template):
    """The zip of OUT/course/source, the course's key beside it (every worker draws a submission's
    hidden inputs as this process would: hidden.course_key) and the template gradebook, as bytes."""
    from .. import hidden
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(course_source).rglob("*")):
            if path.is_file():
                archive.write(path, "source/" + str(path.relative_to(course_source)))
        archive.writestr(hidden.KEY, hidden.course_key(Path(course_source).parent))
        archive.write(template, "template_gradebook.db")
    return buffer.getvalue()


def _worker_for(data, timeout):
    """The grading worker for this bundle and timeout, unpacked on first use (a new bundle,
    from another grading run, replaces the one before)."""
    import warnings

    import sqlalchemy.exc

    from .. import hidden
    from . import worker
    global _CURRENT
    # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings in every worker's log.
    warnings.filterwarnings("ignore", category=sqlalchemy.exc.SAWarning)
    key = (hashlib.sha256(data).hexdigest(), timeout)
    if _CURRENT is None or _CURRENT[0] != key:
        if _CURRENT is not None:
            shutil.rmtree(_CURRENT[2], ignore_errors=True)
        root = Path(tempfile.mkdtemp(prefix="ag-cluster-", dir=_TMP))
        os.chmod(root, 0o755)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(root / "bundle")
        os.chmod(root / "bundle" / hidden.KEY, 0o600)  # the grader's alone, as in OUT/course
        _CURRENT = (key, worker.Worker(root / "bundle" / "source", root / "bundle" / "template_gradebook.db",
                                       timeout, workdir=root), root)
    return _CURRENT[1]


def grade(data, submission, timeout, pages=True):
    """The Dask task: grade one submission with the course in `data` (see bundle); `pages`: make
    its feedback pages (False: `grade --feedback later`)."""
    grader = _worker_for(data, timeout)
    grader.feedback = pages
    return grader.grade(submission)


def run(todo, address, data, timeout, on_results, progress, stop, crashed, pages=True):
    """Grade `todo` on the Dask cluster at `address`; on_results([(submission, result)]) gets
    every result once, with those that came in together (recorded in one transaction)."""
    from dask.distributed import Client, as_completed
    try:
        # Waits distributed.comm.timeouts.connect (30 s unless configured, for example with
        # DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s) for the scheduler to answer.
        client = Client(address)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    with client:
        shared = client.scatter(data, broadcast=True, hash=False)
        futures = {client.submit(grade, shared, submission, timeout, pages, pure=False,
                                 key=f"grade-{submission.student_id}-{submission.digest()[:12]}"): submission
                   for submission in todo}
        try:
            for batch in as_completed(futures).batches():
                results = []
                for future in batch:
                    submission = futures[future]
                    try:
                        result = future.result()
                    except Exception as error:  # KilledWorker: it took down every worker it was given to
                        result = crashed(submission)
                        result["log"] += f"Dask: {type(error).__name__}: {error}\n"
                    results.append((submission, result))
                on_results(results)
                progress.update(len(results))
                if stop.is_set():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise
