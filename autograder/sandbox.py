"""The sandbox a student's kernel runs in while it is graded: one per worker process.

Built from Linux namespaces with bubblewrap (`bwrap`, Debian's package, what Flatpak
uses), which an ordinary user may run: the same isolation with root or without.

- A PID namespace per kernel: when the kernel's sandbox ends, every process in it
  ends (the kernel sees only its own processes in /proc). No process scan.
- A file system of its own: the Python installation and the virtualenv read-only,
  the submission's working folder on a size-limited tmpfs (the disk quota), private
  /tmp, /var/tmp, /dev/shm and /run; nothing else of the host (not the repository,
  OUT, SUBMISSIONS, the home folders). What the kernel writes dies with it.
- No network (its own network namespace), its own IPC and UTS namespaces. The kernel
  talks to the grader over IPC sockets in the one folder shared with it.
- Limits: memory for the sandbox as a whole and a process count, in a cgroup where
  the grader may create one (root: cgroup v2, else v1's memory and pids controllers);
  else memory per process (address space) and a process count (RLIMIT_NPROC, counted
  in the sandbox's user namespace: its own processes only). CPU
  time, file size. As root the kernel also runs as a user of its own (one per worker).

The grader's hidden-test requests reach the kernel through a read-only folder written
before the kernel starts; replies come back over the kernel's own output channel
(see probe.py), so the grader never opens a path the kernel could have written.

`Sandbox(...).kernelspec_dir` is a Jupyter kernel folder whose "python3" kernel starts
`python sandbox.py POLICY -- python -m ipykernel_launcher -f ...`: `launch` (stdlib only)
applies POLICY and execs bwrap, which runs the kernel. With warm kernels (warm.py, the default)
the worker runs the same bwrap command itself (`holder_command`), with a holder in place of the
kernel, and the kernel forked from the worker's fork server joins it.
"""

import contextlib
import fcntl
import json
import multiprocessing.util
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

FIRST_UID = 61000
UID_LOCKS = Path("/run/autograder-sandbox-uids")
BWRAP = "bwrap"
INSIDE = "/run/autograder"  # in the sandbox: the submission (read-only), the probe, the requests
WARM_PROVISIONER = "autograder-warm"  # warm.WarmProvisioner, by its entry point (pyproject.toml)


@dataclass
class Limits:
    memory_bytes: int = 2 * 2 ** 30      # the whole sandbox with a cgroup, else each process's address space
    disk_bytes: int = 512 * 2 ** 20      # the working folder's tmpfs: all a notebook may write there
    scratch_bytes: int = 64 * 2 ** 20    # each of /tmp, /var/tmp, /dev/shm, /run
    file_bytes: int = 256 * 2 ** 20      # largest file it may write
    cpu_seconds: int = 900               # CPU time of the kernel process, whole notebook
    processes: int = 64                  # processes and threads of the sandbox


# The sandbox of this process, if any (set by the grading worker, or by for_this_process).
current = None


class SandboxUnavailable(RuntimeError):
    """Namespaces cannot be created here: grading untrusted code needs --unsafe-no-sandbox."""


UNSAFE_WARNING = (
    "--unsafe-no-sandbox: student code runs as you, with your files, your network and your processes: it can "
    "read the solutions and the gradebook, change grades, and leave processes running. Only limits on memory, "
    "file size and CPU time, and the kernel's process group, remain.")


def running_as_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def namespaces_problem():
    """None when bwrap can build the sandbox here, else one sentence saying why not."""
    if not shutil.which(BWRAP):
        return ("bubblewrap (bwrap) is not installed: install Debian's bubblewrap package "
                "(apt-get install bubblewrap), or pass --unsafe-no-sandbox")
    try:
        run = subprocess.run([BWRAP, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not run ({error}); pass --unsafe-no-sandbox to grade without a sandbox"
    if run.returncode != 0:
        why = (run.stderr.strip().splitlines() or ["no message"])[-1]
        return (f"this machine does not let bwrap create namespaces ({why}); enable unprivileged user "
                "namespaces, or pass --unsafe-no-sandbox")
    return None


# --- limits for the sandbox as a whole: a cgroup when the grader may make one ---

def _own_cgroups():
    """{controller or "": path} of this process, from /proc/self/cgroup."""
    found = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


V1_CONTROLLERS = ("memory", "pids", "cpuacct")  # the folders of a cgroup v1, in this order


def _cgroup_parents():
    """(version, the folders of this process's own cgroup: v2 one; v1 one for each of
    V1_CONTROLLERS); OSError, KeyError or ValueError where /proc/self/cgroup does not say."""
    own = _own_cgroups()
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():  # v2 alone
        return 2, [base / own[""].lstrip("/")]
    return 1, [base / controller / own[controller].lstrip("/") for controller in V1_CONTROLLERS]


def cpu_seconds_in(folder, version):
    """CPU time used by every process that has been in the cgroup `folder` (v2's, or v1's
    cpuacct folder), or None if unreadable."""
    try:
        if version == 2:
            stat = dict(line.split() for line in (folder / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int((folder / "cpuacct.usage").read_text()) / 1e9
    except (OSError, KeyError, ValueError):
        return None


class Cgroup:
    """A cgroup for one worker's kernels (one at a time): memory, process count and CPU time for
    the sandbox as a whole. `folders` are what the launcher joins (v2: one; v1: memory, pids and
    cpuacct)."""

    def __init__(self, folders, version):
        self.folders, self.version = folders, version

    @classmethod
    def create(cls, name, limits):
        """The cgroup, or None where this process may not make one (not root, no controller)."""
        try:
            version, parents = _cgroup_parents()
            if version == 2:
                parent = parents[0]
                if not {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
                    return None
                folder = parent / name
                folder.mkdir(exist_ok=True)
                (folder / "memory.max").write_text(str(limits.memory_bytes))
                (folder / "memory.swap.max").write_text("0") if (folder / "memory.swap.max").exists() else None
                (folder / "pids.max").write_text(str(limits.processes))
                return cls([folder], 2)
            memory, pids, cpu = (parent / name for parent in parents)
            for folder in (memory, pids, cpu):
                folder.mkdir(exist_ok=True)
            (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():
                (memory / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
            (pids / "pids.max").write_text(str(limits.processes))
            return cls([memory, pids, cpu], 1)
        except (OSError, KeyError, ValueError):
            return None

    @property
    def cpu_folder(self):
        """The folder that accounts the CPU time (v1: cpuacct's)."""
        return self.folders[0] if self.version == 2 else self.folders[V1_CONTROLLERS.index("cpuacct")]

    def cpu_seconds(self):
        """CPU time used by every process that has been in this cgroup, or None if unreadable."""
        return cpu_seconds_in(self.cpu_folder, self.version)

    def remove(self):
        for folder in self.folders:
            for _ in range(50):  # the last processes of a killed sandbox take a moment to leave
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


RUNTIME_PARENT, RUNTIME_PREFIX = "/tmp", "ag-kernels-"
# What a sandbox of process PID leaves behind: /tmp/ag-kernels-PID-xxxx, and as root its cgroups,
# autograder-PID-ag-kernels-... (before the eighth session, the runtime folder's name had no PID).
LEFTOVER_RUNTIME = re.compile(RUNTIME_PREFIX + r"(\d+)-\w+")
LEFTOVER_CGROUP = re.compile(r"autograder-(\d+)-" + RUNTIME_PREFIX + r"[\w-]+")


def _ended(pid):
    """Whether process `pid` has ended: it does not exist, or only waits to be reaped (a zombie,
    which a container's first process may never reap)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except (OSError, IndexError):  # unreadable: it exists
        return False


def remove_leftovers():
    """Remove what the sandboxes of killed processes left (SIGKILL, the OOM killer: no finalizer
    of theirs ran): their runtime folders in /tmp, and as root their cgroups, which the kernel
    keeps until removed (a hundred and more of each on a machine whose tests kill graders). Only
    this user's, only of processes that have ended; a cgroup still holding a process stays."""
    for entry in os.scandir(RUNTIME_PARENT):
        found = LEFTOVER_RUNTIME.fullmatch(entry.name)
        if found and _ended(int(found[1])):
            try:
                if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.geteuid():
                    shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                pass
    if not running_as_root():
        return
    try:
        _, parents = _cgroup_parents()
    except (OSError, KeyError, ValueError):
        return
    for parent in parents:
        try:
            children = [entry.name for entry in os.scandir(parent) if entry.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for name in children:
            found = LEFTOVER_CGROUP.fullmatch(name)
            if found and _ended(int(found[1])):
                try:
                    (parent / name).rmdir()
                except OSError:  # a process is still in it, or it went meanwhile
                    pass


class Sandbox:
    """Everything one worker needs to start sandboxed kernels, and to clean up after them."""

    def __init__(self, root, limits=None, unsafe=False):
        self.root = Path(root)
        self.limits = limits or Limits()
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        remove_leftovers()
        # Connection files and IPC sockets, in a short path: a socket path has at most 107 bytes.
        self.runtime = Path(tempfile.mkdtemp(prefix=f"{RUNTIME_PREFIX}{os.getpid()}-", dir=RUNTIME_PARENT))
        # Removed when this process exits: by atexit in a main process, and also in a forked
        # pool worker, which leaves by os._exit and runs multiprocessing's finalizers only.
        multiprocessing.util.Finalize(self, shutil.rmtree, (str(self.runtime), True), exitpriority=1)
        self.uid, self.cgroup = None, None
        self.namespaces = not unsafe
        # Warm kernels (warm.py) unless AUTOGRADER_KERNELS=cold: forked from a process that has
        # imported what kernels need, each in a sandbox of its own as a cold one is.
        self.warm = self.namespaces and os.environ.get("AUTOGRADER_KERNELS", "warm") != "cold"
        if self.namespaces:
            problem = namespaces_problem()
            if problem:
                raise SandboxUnavailable(problem)
            if running_as_root():
                self.uid, self._lock = self._claim_uid()
                os.chmod(self.runtime, 0o1777)
                # Named for this sandbox alone: a process may make several (one per Dask bundle).
                self.cgroup = Cgroup.create(f"autograder-{os.getpid()}-{self.runtime.name}", self.limits)
                if self.cgroup:
                    multiprocessing.util.Finalize(self, self.cgroup.remove, exitpriority=2)
        # What the kernel may import of ours: the probe alone (see probe.py).
        self.lib = self.root / "lib"
        (self.lib / "autograder").mkdir(parents=True, exist_ok=True)
        (self.lib / "autograder" / "__init__.py").write_text("")
        shutil.copy(Path(__file__).with_name("probe.py"), self.lib / "autograder" / "probe.py")
        # The hidden tests' requests of the notebook being graded (written before its kernel starts).
        self.requests = self.root / "requests"
        self.requests.mkdir(exist_ok=True)
        self.policy_file = self.root / "policy.json"
        # The policy: in a file for a cold kernel's launcher, in memory for a warm kernel's holder,
        # which the worker starts itself (holder_command).
        self.holder_policy = self.policy()
        self.policy_file.write_text(json.dumps(self.holder_policy))
        self.kernelspec_dir = self.root / "jupyter"
        spec = self.kernelspec_dir / "kernels" / "python3"
        spec.mkdir(parents=True, exist_ok=True)
        self._fork_server = None
        if self.warm:
            register_warm_provisioner()
            self.fork_server()  # started now: its imports go on while the worker prepares
        (spec / "kernel.json").write_text(json.dumps({
            # Run as a script (stdlib only): the launcher needs nothing of the grader's.
            "argv": [sys.executable, "-I", "-S", str(Path(__file__).resolve()), str(self.policy_file), "--",
                     sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", *KERNEL_OPTIONS],
            "display_name": "Python 3 (sandboxed)", "language": "python",
            "metadata": {"kernel_provisioner": {"provisioner_name": WARM_PROVISIONER}} if self.warm else {}}))

    def fork_server(self):
        """This sandbox's fork server (warm.py), started again if it ended, stopped with this process."""
        if self._fork_server is None or self._fork_server.process.poll() is not None:
            from .warm import ForkServer
            self._fork_server = ForkServer()
            multiprocessing.util.Finalize(self, self._fork_server.stop, exitpriority=3)
        return self._fork_server

    def policy(self):
        return {"limits": asdict(self.limits), "namespaces": self.namespaces, "uid": self.uid,
                "cgroups": [str(f) for f in self.cgroup.folders] if self.cgroup else [],
                "python": sorted({str(Path(p).resolve()) for p in (sys.base_prefix, sys.prefix)}),
                "runtime": str(self.runtime), "lib": str(self.lib),
                "requests": str(self.requests)}

    def use(self):
        """Make this worker process start kernels in this sandbox: our kernelspec comes first on
        JUPYTER_PATH, and connection files (which jupyter_client makes as temporary files) go
        to the runtime folder, the one place the kernel's namespace shares with ours."""
        os.environ.update(JUPYTER_PATH=str(self.kernelspec_dir), JUPYTER_RUNTIME_DIR=str(self.runtime),
                          TMPDIR=str(self.runtime))
        tempfile.tempdir = str(self.runtime)

    @contextlib.contextmanager
    def in_use(self):
        """`use` for the time of one notebook, then the environment as it was (a process that
        is not a grading worker, such as nbgrader's own command, keeps its own)."""
        names = ("JUPYTER_PATH", "JUPYTER_RUNTIME_DIR", "TMPDIR")
        before, tempdir = {name: os.environ.get(name) for name in names}, tempfile.tempdir
        self.use()
        try:
            yield self
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            tempfile.tempdir = tempdir

    def kernel_config(self, config):
        """IPC sockets in the runtime folder (a kernel without network cannot use TCP loopback).
        Kernels are shut down at once, not gracefully: ending the sandbox ends all they left."""
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(self.runtime / "kernel")
        config.ProbedExecute.shutdown_kernel = "immediate"
        return config

    def prepare(self, folder):
        """As root, let the sandbox user read the submission's folder (a throwaway copy), which
        the sandbox copies into its working folder."""
        if self.uid is not None:
            for path in [Path(folder), *Path(folder).rglob("*")]:
                if not path.is_symlink():
                    os.chmod(path, path.stat().st_mode | (0o005 if path.is_dir() else 0o004))

    def write_requests(self, requests):
        """The notebook's hidden-test requests {grade_id: text}, before its kernel starts."""
        for old in self.requests.iterdir():
            if not old.is_socket():  # the oracles' line (autograder/oracles.py) stays
                old.unlink()
        for grade_id, data in requests.items():
            (self.requests / grade_id).write_text(data)

    @staticmethod
    def _claim_uid():
        """A uid no other worker on this machine uses (held by a lock for this process's life)."""
        UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
        for uid in range(FIRST_UID, FIRST_UID + 1000):
            lock = _try_lock(uid)
            if lock:
                return uid, lock
        raise RuntimeError("no free sandbox uid")

    def clean_up(self, kernel_pid=None):
        """End the kernel's sandbox (its PID namespace ends with it) and empty the runtime folder.
        With a cgroup, whatever is still in it (a sandbox of a kernel restarted earlier) ends too."""
        if kernel_pid:
            for kill in (os.killpg, os.kill):
                try:
                    kill(kernel_pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            wait_gone(kernel_pid)
        for folder in self.cgroup.folders if self.cgroup else []:
            for pid in (folder / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for path in self.runtime.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def register_warm_provisioner():
    """jupyter_client finds a kernel provisioner by its entry point, which an installed grader has
    (pyproject.toml); a grader run from its source folder (Gradescope's run_autograder puts it on
    PYTHONPATH) has none, and registers it here, in the process that starts kernels."""
    from importlib.metadata import EntryPoint
    from jupyter_client.provisioning.factory import KernelProvisionerFactory
    factory = KernelProvisionerFactory.instance()
    if WARM_PROVISIONER not in factory.provisioners:
        factory.provisioners[WARM_PROVISIONER] = EntryPoint(
            WARM_PROVISIONER, "autograder.warm:WarmProvisioner", "jupyter_client.kernel_provisioners")


def describe(limits, own_user, cgroup):
    """One sentence for the instructor: what the sandbox enforces here."""
    memory = (f"{limits.memory_bytes // 2 ** 20} MiB and {limits.processes} processes for the whole sandbox "
              f"(cgroup v{cgroup.version})" if cgroup else
              f"{limits.memory_bytes // 2 ** 20} MiB per process and {limits.processes} processes more "
              f"(no cgroup could be made{'' if running_as_root() else ' without root'})")
    user = "as a user of its own" if own_user else "as you, in a user namespace"
    return (f"bubblewrap: each kernel runs {user}, with no network, only its own processes and a "
            f"{limits.disk_bytes // 2 ** 20} MiB working folder; limits: {memory}.")


def describe_here(limits=None):
    """`describe` for the sandboxes a grader would make on this machine."""
    limits = limits or Limits()
    cgroup = Cgroup.create(f"autograder-check-{os.getpid()}", limits) if running_as_root() else None
    if cgroup:
        cgroup.remove()
    return describe(limits, running_as_root(), cgroup)


def for_this_process(unsafe=False):
    """The sandbox of this process, made on first use: how a plain `nbgrader autograde` or
    formgrader's Autograde button, configured by the course's nbgrader_config.py, gets one."""
    global current
    if current is None:
        root = tempfile.mkdtemp(prefix="autograder-sandbox-")
        current = Sandbox(root, unsafe=unsafe)
        multiprocessing.util.Finalize(current, shutil.rmtree, (root, True), exitpriority=0)
    return current


def wait_gone(pid, patience=5.0):
    """Wait (with a deadline) until `pid` and the sandbox under it have left /proc."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state == "Z":
            return
        time.sleep(0.01)


def kernel_process(pid):
    """The kernel's own process in the sandbox started as `pid`: the process that is PID 2 of
    the innermost PID namespace (bwrap's init is 1), or `pid` itself without a sandbox."""
    children = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                status = Path(f"/proc/{entry.name}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            children.setdefault(int(fields.get("PPid", "0")), []).append((int(entry.name), fields.get("NSpid", "")))
    todo, found = [pid], (1, pid)
    while todo:
        parent = todo.pop()
        for child, nspid in children.get(parent, []):
            if nspid.split()[-1:] == ["2"] and len(nspid.split()) > found[0]:
                found = (len(nspid.split()), child)
            todo.append(child)
    return found[1]


def _try_lock(uid):
    """The lock file of sandbox uid `uid`, locked by this process; None when another holds it."""
    lock = open(UID_LOCKS / str(uid), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def uid_in_use(uid):
    """Whether a live sandbox holds `uid` (its processes are then another grader's, not leftovers)."""
    try:
        lock = _try_lock(uid)
    except FileNotFoundError:  # no sandbox ever ran here
        return False
    if lock is None:
        return True
    lock.close()
    return False


# --- the launcher: the kernel's parent, run by jupyter_client; applies the policy, execs bwrap ---

# Of /etc, what Python, numpy and matplotlib read: not the rest (it may hold an instructor's secrets).
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
       "alternatives", "fonts", "mime.types")

# Run in the sandbox before the kernel: copy the submission (read-only) into the working folder (the
# tmpfs), make a home, close every descriptor bwrap was given (one to a host folder would lead out of
# the sandbox), limit the processes, exec the kernel. Only regular files and folders are copied.
# RLIMIT_NPROC is set here, inside the sandbox's user namespace, where the kernel counts only this
# sandbox's processes: set outside, it would count every process of the user, and a fork bomb in
# one sandbox would starve a classmate's sandbox running as the same user.
# numpy's OpenBLAS starts a thread per core, each reserving ~40 MiB of address space: on a 48-core
# machine a kernel holds ~2 GiB before any student code, and RLIMIT_AS (the memory limit without a
# cgroup) then fails what passes on a laptop. One thread makes a kernel the same on every machine,
# its sums rounded the same way, and its CPU time per cell the time of the student's own code.
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# No input history on disk: nothing reads it back, and it cost a thread and a file per kernel
# (IPython's history thread also restarts after a fork, a thread the student's limits then pay).
KERNEL_OPTIONS = ["--HistoryManager.enabled=False"]

HOLD = "--hold"  # `PYTHON --hold`: the command of a warm kernel's sandbox, which waits (see warm.py)

INIT = """
import os, shutil, sys
import resource
processes, source = int(sys.argv[1]), sys.argv[2]
for folder, subfolders, files in os.walk(source):
    target = os.path.join(".", os.path.relpath(folder, source))
    os.makedirs(target, exist_ok=True)
    for name in files:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            try:
                shutil.copyfile(path, os.path.join(target, name))
            except OSError:
                pass
os.makedirs(os.environ["HOME"], exist_ok=True)
os.closerange(3, os.sysconf("SC_OPEN_MAX"))
hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
processes = processes if hard == resource.RLIM_INFINITY else min(processes, hard)
resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
if sys.argv[4:] == ["--hold"]:  # a warm kernel's holder: the sandbox is ready, the kernel joins it (warm.py)
    # PID 1 here, and it stays this process: its environment, root and namespaces are what the
    # kernel takes, read while nothing of them changes (an exec would swap them as they are read).
    # No handler for any signal, so no process of the sandbox can signal it; orphans reaped at once.
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    while True:
        signal.pause()
os.execv(sys.argv[3], sys.argv[3:])
"""


def inside(work):
    """Where the working folder `work` is in the sandbox: the same place for every run, so that a
    traceback on a student's page names the assignment's folder, not where the instructor's OUT
    is on the grading machine (nor a worker's folder, which made pages differ from run to run)."""
    return f"/home/student/{Path(work).name}"


def _limit(name, value):
    soft, hard = resource.getrlimit(name)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(name, (value, value))


def set_limits(limits, processes=False):
    """This process's limits, inherited by what it starts. `processes` (RLIMIT_NPROC) only in
    the sandbox's user namespace, where it counts the sandbox's processes alone (see INIT)."""
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_AS, limits["memory_bytes"])  # each process too: a cgroup acts only when pages are used
    _limit(resource.RLIMIT_FSIZE, limits["file_bytes"])
    _limit(resource.RLIMIT_CPU, limits["cpu_seconds"])
    if processes:
        _limit(resource.RLIMIT_NPROC, limits["processes"])


def bwrap_command(policy, work, command, source=lambda path: path):
    """The bwrap command line that runs `command` in the sandbox, in the working folder `work`.
    `source(path)` is where bwrap finds a folder of the host (see `staged`)."""
    limits = policy["limits"]
    scratch = str(limits["scratch_bytes"])
    argv = [BWRAP, "--unshare-all", "--die-with-parent", "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
    if command[1:] == [HOLD]:
        # A warm kernel's holder is PID 1 of the sandbox, bwrap's init's place: no process of the
        # sandbox can signal it (a kill(-1) of the kernel's would end the sandbox), and the
        # sandbox has the same processes as a cold kernel's.
        argv.append("--as-pid-1")
    for link in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / link
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    for name in ETC:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/run"):
        argv += ["--size", scratch, "--tmpfs", place]
    argv += ["--dir", "/run/lock", "--symlink", "/run/lock", "/var/lock"]
    for path in policy["python"]:
        argv += ["--ro-bind", source(path), path]
    argv += ["--bind", source(policy["runtime"]), policy["runtime"],
             "--size", str(limits["disk_bytes"]), "--tmpfs", inside(work),
             "--ro-bind", source(work), f"{INSIDE}/submission",
             "--ro-bind", source(policy["lib"]), f"{INSIDE}/lib",
             "--ro-bind", source(policy["requests"]), f"{INSIDE}/requests",
             "--chdir", inside(work)]
    home = "/tmp/home"
    for name, value in {"HOME": home, "MPLCONFIGDIR": home, "IPYTHONDIR": f"{home}/.ipython", "TMPDIR": "/tmp",
                        "PYTHONPATH": f"{INSIDE}/lib", "AUTOGRADER_REQUESTS": f"{INSIDE}/requests",
                        **ONE_BLAS_THREAD}.items():
        argv += ["--setenv", name, value]
    # ipykernel would take bwrap's init (PID 1 here) for a parent that died, and exit; 1 says "no parent
    # to watch" (the sandbox ends with the grader's kernel manager anyway).
    argv += ["--setenv", "JPY_PARENT_PID", "1"]
    return argv + ["--", command[0], "-I", "-S", "-c", INIT, str(limits["processes"]), f"{INSIDE}/submission",
                   *command]


def staged(policy, work, command, uid):
    """As root: the sandbox run as `uid`. That user may not reach the host folders the sandbox
    needs by their paths (a Python under /root, a course under a 0700 folder), so a first bwrap,
    still root, binds each at /run/autograder-stage/N of a mount namespace of its own; setpriv
    drops to `uid`; the sandbox's bwrap binds them from there."""
    folders = sorted({*policy["python"], policy["runtime"], work, policy["lib"], policy["requests"]})
    stage = {path: f"/run/autograder-stage/{i}" for i, path in enumerate(folders)}
    # The first bwrap has a PID namespace of its own too: when jupyter_client kills it, everything
    # under it ends, the second bwrap included (entering its user namespace clears that bwrap's
    # parent-death signal, so it would outlive the first).
    outer = [BWRAP, "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "--tmpfs", "/run",
             "--perms", "0755", "--dir", "/run/autograder-stage"]
    for path, place in stage.items():
        outer += ["--bind", path, place]
    return outer + ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    *bwrap_command(policy, work, command, stage.__getitem__)]


# Join each cgroup folder given before "--", then exec the rest (Debian's /bin/sh, dash: a
# millisecond where a Python takes 70).
JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"'


def holder_command(policy, work, python):
    """The command of a warm kernel's sandbox (its holder, see warm.py): `launch`'s bwrap command,
    run by the worker's kernel provisioner itself. Starting `launch`, a Python that imports this
    module, took 70 of a holder's 100 ms. What `launch` does besides: the cgroup is joined before
    bwrap starts (so that the sandbox's cgroup namespace is rooted there, as a cold kernel's is);
    jupyter_client starts a new session; the provisioner hands the connection file to the sandbox
    user; the kernel sets its own limits (a holder only waits) and takes interrupts alone."""
    command = [python, HOLD]
    argv = staged(policy, work, command, policy["uid"]) if policy["uid"] is not None else \
        bwrap_command(policy, work, command)
    if policy["cgroups"]:
        return ["/bin/sh", "-c", JOIN_CGROUPS, "sh", *policy["cgroups"], "--", *argv]
    return argv


def launch(policy_file, command):
    policy = json.loads(Path(policy_file).read_text())
    limits = policy["limits"]
    if os.getsid(0) != os.getpid():  # jupyter_client usually starts kernels in a new session already
        os.setsid()
    # jupyter_client interrupts a cell with SIGINT to the kernel's process group: bwrap would die of
    # it (and the sandbox with it). Ignored here and so in bwrap; ipykernel installs its own handler
    # while a cell runs, so the interrupt still reaches the student's code.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_limits(limits)
    if not policy["namespaces"]:  # --unsafe-no-sandbox: limits only
        os.environ.update(PYTHONPATH=policy["lib"], AUTOGRADER_REQUESTS=policy["requests"], **ONE_BLAS_THREAD)
        os.execv(command[0], command)
    work = os.getcwd()
    uid = policy["uid"]
    for folder in policy["cgroups"]:  # the sandbox as a whole is limited
        Path(folder, "cgroup.procs").write_text(str(os.getpid()))
    if uid is not None:
        if "-f" in command:  # a cold kernel (a warm one's provisioner does this itself)
            os.chown(command[command.index("-f") + 1], uid, uid)  # the kernel reads it as the sandbox user
        argv = staged(policy, work, command, uid)
    else:
        argv = bwrap_command(policy, work, command)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    separator = sys.argv.index("--")
    launch(sys.argv[1], sys.argv[separator + 1:])
