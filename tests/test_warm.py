"""Warm kernels (autograder/warm.py): forked from one process per worker, each in a sandbox of its own.

Every property of the sandbox holds for each forked kernel: its own user, namespaces and writable
places, no capability, nothing left for the next kernel, nothing it can change in the fork server.
The hostile corpus (tests/test_grade_hostile.py, tests/test_grade_unprivileged.py) grades with warm
kernels too; this file checks what is particular to them, and that a warm kernel is a cold one."""

import contextlib
import json
import os
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from autograder import sandbox


@contextlib.contextmanager
def kernels(warm=True):
    """A grading worker's sandbox (warm or cold kernels) for the time of a test."""
    before = os.environ.get("AUTOGRADER_KERNELS")
    os.environ["AUTOGRADER_KERNELS"] = "warm" if warm else "cold"
    root = Path(tempfile.mkdtemp(prefix="warm-test-"))
    box, previous = sandbox.Sandbox(root / "sandbox"), sandbox.current
    sandbox.current = box
    try:
        with box.in_use():
            yield box
    finally:
        sandbox.current = previous
        if box._fork_server:
            box._fork_server.stop()
        os.environ.pop("AUTOGRADER_KERNELS") if before is None else os.environ.update(AUTOGRADER_KERNELS=before)


def run(box, *cells, work=None):
    """What each cell printed (or its error's name), run in one kernel of `box` (in `work`, else a
    new folder)."""
    work = work or Path(tempfile.mkdtemp(prefix="warm-work-"))
    (work / "given.txt").write_text("the submission's file")
    box.prepare(work)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    client = NotebookClient(notebook, kernel_name="python3", timeout=60, shutdown_kernel="immediate",
                            allow_errors=True, resources={"metadata": {"path": str(work)}})
    client.km = client.create_kernel_manager()
    client.km.transport, client.km.ip = "ipc", str(box.runtime / "kernel")
    client.execute()
    box.clean_up()
    return ["".join(output.get("text", "") or output.get("ename", "") for output in cell.outputs).strip()
            for cell in notebook.cells]


WHO = """
import json, os, socket
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
import autograder
print(json.dumps({"uid": os.getuid(), "parent": os.getppid(), "effective": status["CapEff"].strip(),
                  "bounding": status["CapBnd"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
                  "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                  "folder": sorted(os.listdir(".")), "grader": os.path.exists(GRADER),
                  "interfaces": sorted(name for _, name in socket.if_nameindex()),
                  "autograder": autograder.__file__}))
"""


def test_a_warm_kernel_is_the_sandbox_user_with_no_capability_in_namespaces_of_its_own():
    with kernels() as box:
        seen = json.loads(run(box, f"GRADER = {str(Path(sandbox.__file__).parent / 'hidden.py')!r}\n" + WHO)[0])
        server = box.fork_server().process.pid
    assert seen["uid"] == (box.uid if box.uid is not None else os.getuid())
    assert seen["effective"] == seen["bounding"] == "0000000000000000" and seen["no_new_privs"] == "1"
    assert seen["parent"] == 1 and seen["processes"] == [1, seen["processes"][1]]  # the holder and itself
    assert seen["folder"] == ["given.txt"] and not seen["grader"]
    assert seen["interfaces"] == ["lo"]
    assert seen["autograder"] == f"{sandbox.INSIDE}/lib/autograder/__init__.py"  # the probe's, not the grader's
    assert not Path(f"/proc/{server}").exists()  # stopped with its sandbox


LEAVE = """
import glob, os, sys, numpy
open(glob.glob("/tmp/ag-kernels-*")[0] + "/answers", "w").write("rnn_forward")  # the connection files' folder
open("/dev/shm/answers", "w").write("rnn_forward")
open("/tmp/answers", "w").write("rnn_forward")
open("answers.txt", "w").write("rnn_forward")
numpy.answers = "rnn_forward"
sys.modules["answers"] = numpy
os.environ["ANSWERS"] = "rnn_forward"
print(os.getpid())
"""

FIND = """
import glob, os, sys, numpy
print(glob.glob("/tmp/ag-kernels-*/answers"), sorted(os.listdir("/dev/shm")), sorted(os.listdir("/tmp/home")), sorted(os.listdir(".")),
      hasattr(numpy, "answers"), "answers" in sys.modules, "ANSWERS" in os.environ)
"""


def test_what_one_warm_kernel_leaves_the_next_one_does_not_find():
    with kernels() as box:
        run(box, LEAVE)
        server = box.fork_server().process.pid
        found = run(box, FIND)[0]
        assert box.fork_server().process.pid == server  # the same fork server made both kernels
    assert found == "[] [] ['.ipython'] ['given.txt'] False False False"


KILL_ALL = """
import os, signal, subprocess
child = subprocess.Popen(["sleep", "600"], start_new_session=True)
for pid in (os.getppid(), -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
print("alive")
"""


def test_a_kernel_can_end_neither_its_sandbox_nor_outlive_it():
    with kernels() as box:
        outputs = run(box, KILL_ALL, "print('still alive')")
        left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_sleep_600(pid)]
    assert outputs == ["alive", "still alive"]
    assert left == []


def _is_sleep_600(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x00600\x00"
    except OSError:
        return False


SAME = """
import json, os, resource, sys, threading
import matplotlib
print(json.dumps({"path": sys.path, "environment": sorted(os.environ), "threads": sorted(t.name.split("-")[-1] for t in threading.enumerate()),
                  "limits": [resource.getrlimit(getattr(resource, name)) for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE")],
                  "backend": matplotlib.get_backend(), "cwd": [os.getcwd(), os.path.realpath(".")],
                  "history": get_ipython().history_manager.enabled, "main": sys.modules["__main__"].__name__,
                  "argv": sys.argv[1:2], "parent": os.getppid(), "home": os.path.expanduser("~")}, sort_keys=True))
"""


def test_a_warm_kernel_is_a_cold_one(tmp_path):
    """What a notebook can see of how its kernel started is the same, warm or cold."""
    folders = {kind: tmp_path / kind / "rnn_cell" for kind in ("cold", "warm")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    with kernels(warm=False) as box:
        cold = json.loads(run(box, SAME, work=folders["cold"])[0])
    with kernels(warm=True) as box:
        warm = json.loads(run(box, SAME, work=folders["warm"])[0])
    assert warm == cold


@pytest.mark.parametrize("warm", [True, False])
def test_the_working_folder_is_at_the_same_place_in_every_sandbox_and_the_hosts_is_not_there(warm, tmp_path):
    """A traceback on a student's page names the files of the working folder: it must not say where
    the grader's folders are (nor differ from run to run with a worker's folder)."""
    work = tmp_path / "OUT" / ".work" / "worker-x" / "autograded" / "s01" / "rnn_cell"
    work.mkdir(parents=True)
    (work / "given.txt").write_text("the submission's file")
    with kernels(warm) as box:
        seen = run(box, "import os; print(os.getcwd())", f"print(os.path.exists({str(work)!r}))",
                   "print(open('given.txt').read())", "print(os.path.abspath('x.py'))",
                   work=work)
    assert seen == ["/home/student/rnn_cell", "False", "the submission's file", "/home/student/rnn_cell/x.py"]
    assert seen[0] == sandbox.inside(work)


@pytest.mark.parametrize("warm", [True, False])
def test_a_kernel_that_dies_is_seen_dead_at_once(warm):
    """The sandbox ends with its kernel, and nbclient sees the death (the grader then scores that
    cell 0 and replays the others in a new kernel), not a silent kernel until the cell's timeout."""
    with kernels(warm) as box, pytest.raises(DeadKernelError):
        run(box, "import os; os._exit(3)")


def test_a_kernel_the_fork_server_cannot_start_starts_cold_and_lives(monkeypatch):
    """Whatever fails in the fork server is not the student's doing: their kernel starts cold, and
    is a cold kernel from then on (nbclient asks whether it is alive every second of a cell)."""
    def broken(**request):
        raise RuntimeError("the fork server is broken")
    with kernels() as box:
        monkeypatch.setattr(box.fork_server(), "fork", broken)
        outputs = run(box, "import os, time; time.sleep(2.5); print(os.getpid(), os.getppid())")
    assert outputs == ["2 1"]  # a cold kernel: bwrap's init is 1, the kernel 2 (a warm one is 3)


def test_the_fork_server_needs_no_installed_grader(tmp_path):
    """Gradescope runs the grader from its source folder (PYTHONPATH), with no editable install:
    the fork server finds it by its folder, and the kernel's path does not keep that folder."""
    with kernels() as box:
        outputs = run(box, "import os, sys; print(os.getpid(), any(os.path.isdir(os.path.join(p, 'autograder', 'grade')) for p in sys.path))")
        server = box.fork_server().process.pid
        environment = dict(item.split(b"=", 1) for item in Path(f"/proc/{server}/environ").read_bytes().split(b"\0") if item)
    assert outputs == ["3 False"]  # warm, and no grader on its path
    assert environment[b"PYTHONPATH"].decode() == str(Path(sandbox.__file__).parents[1])


def test_a_warm_kernel_reads_its_own_proc_and_its_own_cgroup():
    """A warm kernel's /proc/self is its own (it was made undumpable by its change of user), and
    it is in the sandbox's cgroup namespace, seeing no host cgroup path, as a cold kernel."""
    cell = "import os; print(len(open('/proc/self/environ').read()) > 0, sorted(set(line.rsplit(':', 1)[1] for line in open('/proc/self/cgroup').read().split())))"
    with kernels(warm=False) as box:
        cold = run(box, cell)
    with kernels() as box:
        warm = run(box, cell)
    assert warm == cold == ["True ['/']"]


def test_the_fork_server_answers_a_request_it_cannot_serve_and_serves_the_next():
    """A holder already gone, a request it cannot read, a fork the system refuses: each is an
    answer (that kernel then starts cold), not the fork server's end."""
    with kernels() as box:
        server = box.fork_server()
        for request in ({"holder": 2 ** 22 + 1, "uid": None, "arguments": [], "cgroups": [], "limits": {}, "lib": ""},
                        {"uid": None}):
            with pytest.raises(RuntimeError, match="could not start"):
                server.fork(**request)
            assert server.process.poll() is None
        assert run(box, "import os; print(os.getpid())") == ["3"]  # still warm
