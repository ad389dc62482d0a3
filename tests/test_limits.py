"""ProbedExecute's own limits: wall time per notebook, CPU time per cell, a kernel that dies."""

import os
import signal
import time
from pathlib import Path

import nbformat
import zmq
from nbclient.util import run_sync
from nbformat.v4 import new_code_cell, new_notebook

from autograder import sandbox
from autograder.preprocessors import RECONNECT_MS, ProbedExecute


def run(tmp_path, sources, **limits):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executor = ProbedExecute(timeout=30, **limits)
    executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return [[(o.get("ename"), o.get("text")) for o in cell.outputs] for cell in nb.cells]


def test_cells_past_the_notebook_time_are_not_run(tmp_path):
    outputs = run(tmp_path, ["import time; time.sleep(1.5)", "print('ran')", "time.sleep(1)", "print('late')"],
                  notebook_timeout=2)
    assert outputs[1] == [(None, "ran\n")]
    assert outputs[3] == [("NotebookTimeout", None)]


def test_a_message_past_the_size_limit_is_not_parsed(tmp_path):
    """A message part over `max_message_bytes` is never unpacked: the cell says its output was cut,
    the notebook goes on. (Until this test, nbclient's setup_kernel started the kernel client
    through the base class, and neither this limit nor the faster readiness wait applied.)"""
    big = "from IPython.display import display\ndisplay({'text/plain': 'x' * (2 * 2**20)}, raw=True)"
    outputs = run(tmp_path, [big, "print('after')"], max_message_bytes=2**20, max_output_chars=10**8)
    assert outputs[0] == [(None, "[output cut: more than 100000000 characters]\n")]
    assert outputs[1] == [(None, "after\n")]


def test_the_kernel_client_tries_again_to_connect_within_milliseconds(tmp_path):
    """The client connects before the kernel listens: with zmq's default (try again after 100 ms)
    every kernel was ready 85 ms after it could have been, four times a submission."""
    tried_again_after = []

    class Recording(ProbedExecute):
        async def async_start_new_kernel_client(self):
            client = await super().async_start_new_kernel_client()
            tried_again_after.extend(channel.socket.getsockopt(zmq.RECONNECT_IVL) for channel in
                                     (self.kc.shell_channel, self.kc.iopub_channel, self.kc.control_channel))
            return client
        start_new_kernel_client = run_sync(async_start_new_kernel_client)  # as ProbedExecute does

    nb = new_notebook(cells=[new_code_cell("print('ran')")])
    Recording(timeout=30).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert nb.cells[0].outputs[0]["text"] == "ran\n"
    assert tried_again_after == [RECONNECT_MS] * 3 and RECONNECT_MS <= 10


def test_a_cell_past_its_cpu_time_costs_that_cell_only(tmp_path):
    outputs = run(tmp_path, ["x = 1", "while True:\n    pass", "print(x + 1)"], cell_cpu_seconds=1)
    assert outputs[1] == [("KernelDied", None)]
    assert outputs[2] == [(None, "2\n")], "the kernel restarted and the earlier cells were replayed"


def test_without_a_cgroup_the_kernels_own_cpu_time_ends_the_cell(tmp_path, monkeypatch):
    """Without a cgroup (an ordinary user) the kernel's own process is timed: a warm kernel's, not
    the process that forked it (which has ended) nor its sandbox's PID 1 (which never runs)."""
    monkeypatch.setattr(sandbox.Cgroup, "create", classmethod(lambda cls, name, limits: None))
    box = sandbox.Sandbox(tmp_path / "box")
    monkeypatch.setattr(sandbox, "current", box)
    (tmp_path / "notebook").mkdir()
    try:
        outputs = run(tmp_path / "notebook", ["x = 1", "while True:\n    pass", "print(x + 1)"], cell_cpu_seconds=1)
    finally:
        box.fork_server().stop()
    assert box.warm and outputs[1] == [("KernelDied", None)]
    assert outputs[2] == [(None, "2\n")]


def test_cpu_time_counts_the_whole_sandbox_where_a_cgroup_holds_it(tmp_path):
    """Two children spin while the kernel sleeps: with a cgroup (root), their CPU time is the
    sandbox's and ends the cell; without one, only the kernel's own process is counted."""
    burn = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(2)]\n"
            "time.sleep(6)\nprint('slept')")
    outputs = run(tmp_path, ["x = 1", burn, "print(x + 1)"], cell_cpu_seconds=1)
    if sandbox.describe_here().count("cgroup v"):
        assert outputs[1] == [("KernelDied", None)]
    else:
        assert outputs[1] == [(None, "slept\n")]
    assert outputs[2] == [(None, "2\n")]


def test_a_dead_kernel_costs_its_cell_only(tmp_path):
    outputs = run(tmp_path, ["y = 41", "import os; os._exit(1)", "print(y + 1)"])
    assert outputs[1] == [("KernelDied", None)] and outputs[2] == [(None, "42\n")]


def test_killing_the_process_jupyter_started_ends_the_whole_sandbox(tmp_path):
    """jupyter_client kills only the process it started (on a restart; a dead worker's bwrap is
    killed by its parent-death signal): the sandbox under it, and a sleeper its kernel started,
    must end with it."""
    counts = []

    class KillingTheLauncher(ProbedExecute):
        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            if cell_index == 1:
                os.kill(self._kernel_pid, signal.SIGKILL)
                time.sleep(1)
                counts.append(sum("987" in _cmdline(p.name) for p in os.scandir("/proc") if p.name.isdigit()))
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        execute_cell = run_sync(async_execute_cell)  # as ProbedExecute does

    nb = new_notebook(cells=[new_code_cell(s) for s in [
        "import subprocess; sleeper = subprocess.Popen(['sleep', '987'])", "print('on')"]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    KillingTheLauncher(timeout=30).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert counts == [0]


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""
