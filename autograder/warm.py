"""Warm kernels: a fork server per grading worker, so a kernel starts in milliseconds.

A cold kernel costs about half a CPU-second before the student's first line runs: a Python
starts, then imports ipykernel, IPython, debugpy and numpy. Here one process per worker, the
fork server, imports them once; each notebook's kernel is a fork of it.

The sandbox is still bubblewrap's (sandbox.py): for every kernel the worker starts a
*holder*, bwrap with the same policy as a cold kernel's (namespaces, a fresh tmpfs working
folder with the submission copied in, private /tmp and /dev/shm, no network), whose command
only waits, as PID 1 of the sandbox. The fork server's child then joins the holder's
namespaces, as util-linux's `nsenter` does (setns(2), then the holder's root), and becomes the
sandbox user with no capabilities, the same limits and the same environment; the kernel is
forked twice more, so that it is in the holder's PID namespace, a child of its PID 1 (as a
cold kernel is of bwrap's init). So every kernel has its own namespaces,
quota and writable places, made by bwrap for it alone; ending the holder ends the kernel
and all it started; and a kernel cannot change the fork server (a fork shares no memory with
its parent, and keeps none of its descriptors). The fork server holds nothing of the grader's:
it is a new Python that imports libraries and reads no course file.

jupyter_client drives the kernel as any other (`WarmProvisioner`, a kernel provisioner:
the way Jupyter lets a kernel be started differently), so nbgrader and nbclient are unchanged.
"""

import asyncio
import ctypes
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict

from . import sandbox

# What every notebook's kernel imports, imported once by the fork server. Nothing from the
# submission's folder (rnn_utils, ...): a kernel imports those from its own copy.
# Not matplotlib: it fixes its backend and folders from the environment when imported.
PRELOAD = ("numpy", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "IPython", "IPython.core.history", "IPython.core.debugger", "debugpy", "pdb", "pydoc", "sqlite3")

# setns(2) namespace types, and the ioctl giving the user namespace that owns a namespace.
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NS_GET_USERNS = 0xB701
JOINED = (("mnt", CLONE_NEWNS), ("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET),
          ("cgroup", CLONE_NEWCGROUP), ("pid", CLONE_NEWPID))
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 4, 24, 38, 47, 4
CAPABILITY_VERSION_3 = 0x20080522

PACKAGE_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the folder of `autograder`

SET_BY_IMPORTS = {}  # environment variables PRELOAD's imports set (debugpy sets some)

MESSAGE_BYTES = 1 << 20   # a request or reply line of the fork server's protocol
START_SECONDS = 30        # a holder ready, a kernel forked: else the start fails (nbclient reports it)

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def innermost(pid):
    """The last process of the chain started as `pid` (each bwrap has one child): the holder's
    waiting process, in the sandbox's namespaces."""
    children = _children(pid)
    while children:
        pid = children[0]
        children = _children(pid)
    return pid


# --- in the fork server's child: become a kernel of the holder's sandbox ---

def _enter(holder, uid, cgroups, work):
    """Join the namespaces of process `holder` as the sandbox user (then with every capability
    in its user namespace, until _drop_capabilities), in its working folder `work` (the path in
    the sandbox). Returns the holder's environment."""
    own_user = os.open(f"/proc/{holder}/ns/user", os.O_RDONLY)
    joined = [(os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY), kind) for name, kind in JOINED]
    root = os.open(f"/proc/{holder}/root", os.O_RDONLY)
    with open(f"/proc/{holder}/environ", "rb") as environ:
        env = dict(item.split(b"=", 1) for item in environ.read().split(b"\0") if b"=" in item)
    for folder in cgroups:  # as root: the sandbox's cgroup, for the kernel and all it starts
        with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    # bwrap makes the namespaces in one user namespace and runs its command in a second, nested
    # one: join the first (which owns the others), then the others, then the command's own.
    owner = fcntl.ioctl(joined[0][0], NS_GET_USERNS)
    _check(_libc.setns(owner, CLONE_NEWUSER), "setns user")
    for fd, kind in joined:
        _check(_libc.setns(fd, kind), f"setns {kind:#x}")
    _check(_libc.setns(own_user, CLONE_NEWUSER), "setns user of the command")
    os.fchdir(root)
    os.chroot(".")
    os.chdir(work)
    for fd in (owner, own_user, root, *(fd for fd, _ in joined)):
        os.close(fd)
    return env


def _drop_capabilities():
    """What bwrap does before it runs its command: no capability, none to regain."""
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for capability in range(last + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), "drop a bounding capability")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # Changing user and user namespace made the process undumpable: its /proc/self would be another
    # user's (a cold kernel reads its own /proc/self/environ). Nothing is left here to protect.
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")


def _run_kernel(env, arguments, lib):
    """Be the kernel, as `python -m ipykernel_launcher ARGUMENTS` would be in the sandbox."""
    # Standard input from nowhere; output to the worker's standard error, as a cold kernel's
    # (the fork server's standard output is its replies).
    os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
    os.dup2(2, 1)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os.environ.clear()
    os.environ.update({key.decode(): value.decode() for key, value in env.items()})
    os.environ.update(SET_BY_IMPORTS)  # as a cold kernel's imports would set them
    import ipykernel_launcher  # its name in argv[0] tells ipykernel that a kernel manager started it
    sys.argv = [ipykernel_launcher.__file__, *arguments]
    # A cold kernel's path: PYTHONPATH (the probe), then the installation's; IPython puts the
    # working folder first. Its `autograder` is the probe's package, not the fork server's.
    sys.path[:] = [lib, *[path for path in sys.path[1:] if path != PACKAGE_FOLDER]]
    for name in [name for name in sys.modules if name == "autograder" or name.startswith("autograder.")]:
        del sys.modules[name]
    import numpy
    numpy.random.seed()  # a fork has its parent's random state; a new kernel would not
    from ipykernel import kernelapp
    kernelapp.launch_new_instance()


def _child(request, report):
    """The fork server's child: join the holder's sandbox, then start the kernel in its PID
    namespace. The kernel is forked twice, so that it is the child of the sandbox's init (its
    parent is pid 1 there, as a cold kernel's is), and this process ends once it has begun."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        env = _enter(request["holder"], request["uid"], request["cgroups"], request["work"])
        sandbox.set_limits(request["limits"], processes=True)
        _drop_capabilities()
        middle = os.fork()
        if middle == 0:
            if os.fork() == 0:
                os.close(report)
                try:
                    _run_kernel(env, request["arguments"], request["lib"])
                finally:
                    os._exit(0)
            os._exit(0)
        os.waitpid(middle, 0)
        os.write(report, b'{"joined": true}')
        os._exit(0)
    except BaseException as error:
        try:
            os.write(report, json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
        finally:
            os._exit(1)


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def _start(request):
    """Fork a kernel into the sandbox of `request["holder"]` (its PID 1, which waits while the
    kernel runs): the kernel's pid, or why it could not start."""
    holder = request["holder"]
    reading, report = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reading)
        _child(request, report)
    os.close(report)
    reply = _read_all(reading, START_SECONDS)
    os.close(reading)
    try:
        answer = json.loads(reply) if reply else {}
    except ValueError:
        answer = {}
    if not answer.get("joined"):
        return {"error": answer.get("error", "the kernel's process ended before it started")}
    kernels = _children(holder)  # the kernel's parent has ended: the sandbox's PID 1 is its parent now
    if len(kernels) != 1:
        return {"error": "the kernel did not start in its sandbox"}
    return {"kernel": kernels[0]}


def serve():
    """The fork server: import PRELOAD, then one JSON request a line on stdin, one reply a line on
    stdout: a forked kernel's pid, or why it could not start."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    before = dict(os.environ)
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # a library missing here is imported by the kernel, as a cold one would
            pass
    SET_BY_IMPORTS.update({key: value for key, value in os.environ.items() if before.get(key) != value})
    threads = len(os.listdir("/proc/self/task"))
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    replies.write(json.dumps({"ready": threads == 1, "threads": threads}).encode() + b"\n")
    replies.flush()
    while True:
        line = requests.readline(MESSAGE_BYTES)
        if not line:
            return
        try:
            reply = _start(json.loads(line))
        except (OSError, ValueError, KeyError) as error:  # a fork refused (the user's process limit), ...
            reply = {"error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()


def _read_all(fd, seconds, until=None):
    """What a pipe gives until its end (or the byte `until`), within `seconds`."""
    deadline, data = time.monotonic() + seconds, b""
    while len(data) < MESSAGE_BYTES and not (until and until in data):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


# --- in the grading worker ---

class ForkServer:
    """The worker's side: starts the fork server (a new Python, nothing of the worker's in it)
    and asks it for kernels."""

    def __init__(self):
        # What Python reads at start-up (PYTHON*, the locale) as a cold kernel would get it; the grader's
        # package by its folder, wherever it is installed (Gradescope runs it from PYTHONPATH); and
        # what ipykernel reads when imported, as the sandbox sets it (see sandbox.bwrap_command).
        interpreter = {name: value for name, value in os.environ.items()
                       if (name.startswith(("PYTHON", "LC_")) or name == "LANG") and name != "PYTHONPATH"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.warm"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd="/", close_fds=True,
            env={**interpreter, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **sandbox.ONE_BLAS_THREAD,
                 "PYTHONPATH": PACKAGE_FOLDER, "JPY_PARENT_PID": "1"})
        self.ready = False  # its imports go on while the worker does other things

    def _hello(self):
        hello = self._reply(120)
        if not hello.get("ready"):
            raise RuntimeError(f"the fork server has {hello.get('threads', 'no')} threads: it may not fork")
        self.ready = True

    def _reply(self, seconds):
        fd = self.process.stdout.fileno()
        if not select.select([fd], [], [], seconds)[0]:
            raise RuntimeError("the fork server did not answer in time")
        line = self.process.stdout.readline(MESSAGE_BYTES)
        if not line:
            raise RuntimeError("the fork server ended")
        return json.loads(line)

    def fork(self, **request):
        """{"kernel": pid of the kernel}, or RuntimeError. A fork server that failed to answer is
        stopped (a late answer would answer the next request): the next kernel gets a new one."""
        try:
            if not self.ready:
                self._hello()
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            reply = self._reply(START_SECONDS + 5)
        except (OSError, ValueError, RuntimeError):
            self.stop()
            raise
        if "kernel" not in reply:
            raise RuntimeError(f"a warm kernel could not start: {reply.get('error')}")
        return reply

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def pidfd(pid):
    """A pidfd of process `pid` (readable once the process has ended), or None: no such process
    (it ended already), or no pidfd on this system."""
    try:
        return os.pidfd_open(pid) if pid else None
    except OSError:
        return None


try:
    from jupyter_client.provisioning import LocalProvisioner
except ImportError:  # the fork server itself needs none of this
    LocalProvisioner = object


class WarmProvisioner(LocalProvisioner):
    """A kernel provisioner (jupyter_client's plug-in for how a kernel starts): starts the
    kernelspec's sandbox as a holder, then has the worker's fork server fork a kernel into it.
    `pid` is the holder's (killing it ends the sandbox); `kernel_pid` is the kernel's."""

    kernel_pid = None  # the warm kernel's, else None (a kernel started cold: LocalProvisioner's ways)
    _kernel = None     # a pidfd of it

    async def launch_kernel(self, cmd, **kwargs):
        self._forget_kernel()  # a restart reuses the provisioner: nothing of the last kernel
        box = sandbox.current
        separator = cmd.index("--")
        connection_file = cmd[cmd.index("-f", separator) + 1]
        if box.uid is not None:
            os.chown(connection_file, box.uid, box.uid)  # the kernel reads it as the sandbox user
        work = kwargs.get("cwd") or os.getcwd()
        holder_cmd = sandbox.holder_command(box.holder_policy, work, cmd[separator + 1])
        connection = await super().launch_kernel(holder_cmd, **dict(kwargs, stdout=subprocess.PIPE))
        ready = _read_all(self.process.stdout.fileno(), START_SECONDS, until=b"\n")
        self.process.stdout.close()
        self.process.stdout = None
        try:
            if not ready.startswith(b"ready"):
                raise RuntimeError("the kernel's sandbox did not start")
            reply = box.fork_server().fork(
                holder=innermost(self.pid), uid=box.uid, work=sandbox.inside(work), arguments=cmd[cmd.index("ipykernel_launcher") + 1:],
                cgroups=[str(folder) for folder in box.cgroup.folders] if box.cgroup else [],
                limits=asdict(box.limits), lib=f"{sandbox.INSIDE}/lib")
        except (RuntimeError, OSError, ValueError) as error:
            # A kernel the student is not to blame for is never lost: this one starts cold.
            self.log.warning("%s; starting a cold kernel instead", error)
            await super().kill()
            await asyncio.wait_for(super().wait(), timeout=10)
            return await super().launch_kernel(cmd, **kwargs)
        self.kernel_pid = reply["kernel"]
        self._kernel = pidfd(self.kernel_pid)
        return connection

    def _kernel_ended(self):
        """Whether the warm kernel has ended (False for a cold one: its holder is its process)."""
        if self.kernel_pid is None:
            return False
        if self._kernel is None:
            return not os.path.exists(f"/proc/{self.kernel_pid}")
        return bool(select.select([self._kernel], [], [], 0)[0])

    async def poll(self):
        """The kernel's end is the sandbox's end: a holder without its kernel is stopped."""
        if self.process is not None and self.process.poll() is None and self._kernel_ended():
            await super().send_signal(signal.SIGKILL)
        return await super().poll()

    async def send_signal(self, signum):
        """To a warm kernel: an interrupt to the kernel alone (a holder has no handler for it), any
        other signal to the kernel, then to the holder's process group. A cold one: as jupyter_client."""
        if self.kernel_pid is None:
            return await super().send_signal(signum)
        if not self._kernel_ended():
            try:
                if self._kernel is not None:
                    signal.pidfd_send_signal(self._kernel, signum)
                else:
                    os.kill(self.kernel_pid, signum)
            except ProcessLookupError:
                pass
        if signum != signal.SIGINT:
            await super().send_signal(signum)

    async def kill(self, restart=False):
        """SIGKILL, then wait (in steps of milliseconds) for the holder to end: jupyter_client
        polls every 0.1 s, and a sandbox ends in a few ms."""
        await self.send_signal(signal.SIGKILL)
        for _ in range(500):
            if self.process is None or self.process.poll() is not None:
                return
            await asyncio.sleep(0.002)

    def _forget_kernel(self):
        if self._kernel is not None:
            os.close(self._kernel)
        self.kernel_pid, self._kernel = None, None

    async def cleanup(self, restart=False):
        self._forget_kernel()
        await super().cleanup(restart)


if __name__ == "__main__":
    serve()
