"""The sandbox a student's kernel runs in while it is graded.

Enforced always: a new session (all its processes are killed when the notebook is
done), and limits on memory (address space), file size, CPU time and processes.
Enforced when the grader runs as root (as CI does): the kernel runs as an unprivileged
user of its own (one per worker), in a network namespace with no network, and in a
mount namespace where the repository (source/, autograder/, tests/), OUT (gradebook,
results, other students) and the usual homes of data (/work, /home, /root, /srv, /mnt,
/opt, /tmp, /var/tmp) are empty; only the Python installation, the virtualenv and the
kernel's connection folder are put back. The kernel keeps its working folder (the
throwaway copy of one submission) as its current directory: the only files it sees.

`Sandbox(...).kernelspec_dir` is a Jupyter kernel folder whose "python3" kernel starts
`python -m autograder.sandbox POLICY -- python -m ipykernel_launcher -f ...`: this module
applies POLICY, then execs the kernel. Kernels talk to the grader over IPC sockets in
the connection folder, since a kernel with no network has no loopback to reach.
"""

import ctypes
import fcntl
import json
import multiprocessing.util
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HIDDEN_ROOTS = ("/work", "/home", "/root", "/srv", "/mnt", "/opt", "/tmp", "/var/tmp")
FIRST_UID = 61000
UID_LOCKS = Path("/run/autograder-sandbox-uids")


@dataclass
class Limits:
    memory_bytes: int = 2 * 2 ** 30      # address space of each process of the kernel
    file_bytes: int = 256 * 2 ** 20      # largest file it may write
    cpu_seconds: int = 900               # CPU time of the kernel process, whole notebook
    processes: int = 64                  # processes and threads of the sandbox user (root only)


@dataclass
class Policy:
    limits: dict
    uid: int | None = None               # None: not root, no user switch or namespaces
    hide: list = field(default_factory=list)
    expose: list = field(default_factory=list)
    home: str = "/tmp/home"


# The sandbox of this worker process, if any (set by the grading worker, used by ProbedExecute).
current = None


def running_as_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


NOT_ENFORCED_WITHOUT_ROOT = (
    "not running as root: the sandbox applies memory, file-size, CPU and process-group limits, "
    "but not a separate user, no network, or hidden grader files (run the grader as root for those).")


class Sandbox:
    """Everything one worker needs to start sandboxed kernels, and to clean up after them."""

    def __init__(self, root, hide=(), limits=None):
        self.root = Path(root)
        self.limits = limits or Limits()
        # Connection files and IPC sockets, in a short path: a socket path has at most 107 bytes.
        self.runtime = Path(tempfile.mkdtemp(prefix="ag-kernels-", dir="/tmp"))
        # Removed when this process exits: by atexit in a main process, and also in a forked
        # pool worker, which leaves by os._exit and runs multiprocessing's finalizers only.
        multiprocessing.util.Finalize(self, shutil.rmtree, (str(self.runtime), True), exitpriority=1)
        self.root.mkdir(parents=True, exist_ok=True)
        self.uid = None
        if running_as_root():
            self.uid, self._lock = self._claim_uid()
            os.chmod(self.runtime, 0o1777)
        hide = sorted({str(Path(p).resolve()) for p in (*HIDDEN_ROOTS, *hide) if Path(p).exists()})
        # A folder inside one already hidden is hidden with it (and could not be mounted on).
        hide = [p for p in hide if not any(p.startswith(q.rstrip("/") + "/") for q in hide if q != p)]
        expose = sorted({str(Path(p).resolve()) for p in (sys.base_prefix, sys.prefix, self.runtime)})
        policy = Policy(asdict(self.limits), self.uid, hide, expose)
        self.policy_file = self.root / "policy.json"
        self.policy_file.write_text(json.dumps(asdict(policy)))
        self.kernelspec_dir = self.root / "jupyter"
        spec = self.kernelspec_dir / "kernels" / "python3"
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            # Run as a script (stdlib only): the kernel starts where `autograder` is not importable.
            "argv": [sys.executable, str(Path(__file__).resolve()), str(self.policy_file), "--",
                     sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (sandboxed)", "language": "python"}))

    def use(self):
        """Make this worker process start kernels in this sandbox: our kernelspec comes first on
        JUPYTER_PATH, and connection files (which jupyter_client makes as temporary files) go
        to the runtime folder, the one place the kernel's namespace shares with ours."""
        os.environ.update(JUPYTER_PATH=str(self.kernelspec_dir), JUPYTER_RUNTIME_DIR=str(self.runtime),
                          TMPDIR=str(self.runtime))
        tempfile.tempdir = str(self.runtime)

    def kernel_config(self, config):
        """IPC sockets in the runtime folder (a kernel without network cannot use TCP loopback).
        Kernels are shut down at once, not gracefully: clean_up kills whatever they leave
        anyway, and a graceful shutdown waits a fifth of a second per notebook for nothing."""
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(self.runtime / "kernel")
        config.ProbedExecute.shutdown_kernel = "immediate"
        return config

    @staticmethod
    def _claim_uid():
        """A uid no other worker on this machine uses (held by a lock for this process's life)."""
        UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
        for uid in range(FIRST_UID, FIRST_UID + 1000):
            lock = _try_lock(uid)
            if lock:
                return uid, lock
        raise RuntimeError("no free sandbox uid")

    def prepare(self, folder):
        """Give the kernel's working folder to the sandbox user."""
        if self.uid is not None:
            for path in [Path(folder), *Path(folder).rglob("*")]:
                if not path.is_symlink():
                    os.chown(path, self.uid, self.uid)

    def clean_up(self, folder, kernel_pid=None):
        """Kill every process the kernel left, take the folder back, drop what is not a plain file."""
        if self.uid is not None:
            kill_user(self.uid)
        elif kernel_pid:
            try:
                os.killpg(kernel_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for path in sorted(Path(folder).rglob("*"), reverse=True):
            # A symlink or device left by student code must not redirect what the grader writes next.
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                path.unlink(missing_ok=True)
            elif self.uid is not None:
                os.chown(path, 0, 0)
        if self.uid is not None:
            os.chown(folder, 0, 0)


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


def kill_user(uid, patience=10.0):
    """SIGKILL every process of `uid` (a fork bomb keeps forking) and wait until even their
    zombies are reaped: they count against the next kernel's process limit."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        processes = [(int(p.name), state) for p in Path("/proc").iterdir() if p.name.isdigit()
                     for state in [_state_of(p, uid)] if state]
        if not processes:
            return
        for pid, state in processes:
            if state != "Z":
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.02)


def _state_of(proc, uid):
    """The state letter of a process of `uid` (R, S, Z...), or None for anyone else's."""
    try:
        if proc.stat().st_uid != uid:
            return None
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


# --- the launcher: runs as the kernel's parent, applies the policy, then execs the kernel ---

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE, MS_RDONLY, MS_REMOUNT = 4096, 16384, 1 << 18, 1, 32
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, flags, data.encode() if data else None),
           f"mount {target}")


def _hide_and_expose(hide, expose):
    """In a new mount namespace: empty tmpfs over `hide`, then `expose` put back (read-only)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    stash = "/run/autograder-stash"
    os.makedirs(stash, exist_ok=True)
    _mount("tmpfs", stash, "tmpfs", 0, "mode=0700")
    for i, path in enumerate(expose):
        os.makedirs(f"{stash}/{i}")
        _mount(path, f"{stash}/{i}", None, MS_BIND | MS_REC)
    for path in hide:
        _mount("tmpfs", path, "tmpfs", 0, "mode=1777" if path in ("/tmp", "/var/tmp") else "mode=0755")
    for i, path in enumerate(expose):
        os.makedirs(path, exist_ok=True)
        _mount(f"{stash}/{i}", path, None, MS_BIND | MS_REC)
    _check(_libc.umount2(stash.encode(), MNT_DETACH), "umount stash")


def _limit(name, value):
    soft, hard = resource.getrlimit(name)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(name, (value, value))


def launch(policy_file, command):
    policy = json.loads(Path(policy_file).read_text())
    limits = policy["limits"]
    if os.getsid(0) != os.getpid():  # jupyter_client usually starts kernels in a new session already
        os.setsid()
    uid = policy["uid"]
    if uid is not None:
        connection = command[command.index("-f") + 1]
        os.chown(connection, uid, uid)              # the kernel reads it after dropping root
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
        # The working folder (the one submission's throwaway copy) stays where it is.
        work = os.getcwd()
        _hide_and_expose(policy["hide"], policy["expose"] + [work])
        os.chdir(work)
        os.makedirs(policy["home"], exist_ok=True)
        os.chown(policy["home"], uid, uid)
        os.environ.update(HOME=policy["home"], MPLCONFIGDIR=policy["home"], IPYTHONDIR=policy["home"] + "/.ipython")
        _limit(resource.RLIMIT_NPROC, limits["processes"])
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _limit(resource.RLIMIT_AS, limits["memory_bytes"])
    _limit(resource.RLIMIT_FSIZE, limits["file_bytes"])
    _limit(resource.RLIMIT_CPU, limits["cpu_seconds"])
    _limit(resource.RLIMIT_CORE, 0)
    os.execv(command[0], command)


if __name__ == "__main__":
    separator = sys.argv.index("--")
    launch(sys.argv[1], sys.argv[separator + 1:])
