"""Benchmark: where a notebook's CPU time goes when the sample class is graded.

    .venv/bin/python bench/bench_cpu.py [--copies 1] [--workers 1] [--timeout 5]   (as root)

Runs `python -m autograder grade --workers N` on the sample class in a cgroup of its own (a
cpuacct cgroup, v1 or v2: root only) and prints CPU-seconds per notebook:
- the kernels: every process of the kernels' sandboxes (the grader's own cgroup for each worker's
  kernels, sampled every 20 ms until it is removed: the bwrap holder, the kernel forked into it,
  the student's code, the tests, the probe's side in the kernel);
- each worker, each fork server, and the coordinator (the command's own process), from
  /proc/PID/stat, sampled as well;
- the rest (processes too short-lived to be sampled: the fork server's children before they join a
  sandbox, bwrap's own set-up);
then the least wall time a notebook could take on this machine's CPUs if everything outside the
kernels cost nothing: the kernels' CPU time divided by the number of CPUs.

The sample class's endless-loop student is left out: its kernel spends `--timeout` of CPU three
times in a busy loop, which says how long the timeout is, not what grading costs.
Run by hand, not by `make test`: timings depend on the machine.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import sample, sandbox  # noqa: E402

ASSIGNMENT = "rnn_step_by_step"
LEFT_OUT = "infinite_loop"  # the sample student whose kernel loops until each timeout
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid):
    """(CPU seconds, start time) of process `pid`, or None once it has ended."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK, fields[19]
    except (OSError, IndexError, ValueError):
        return None


def _kind(pid, command_pid):
    if pid == command_pid:
        return "coordinator"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return None
    return "fork servers" if b"autograder.warm" in words else "workers"


def measured(command, cgroup, version):
    """Run `command` in `cgroup`; returns (wall seconds, total CPU, {kind: CPU seconds})."""
    seen = {}           # (pid, start): (kind, CPU seconds when last seen)
    kernels = {}        # each kernel cgroup: its CPU seconds when last seen
    start = time.perf_counter()
    process = subprocess.Popen(["/bin/sh", "-c", sandbox.JOIN_CGROUPS, "sh", str(cgroup), "--", *command],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        for child in cgroup.iterdir():
            if child.is_dir() and child.name.startswith("autograder-"):
                used = sandbox.cpu_seconds_in(child, version)
                if used is not None:
                    kernels[child.name] = max(used, kernels.get(child.name, 0.0))
        try:
            pids = (cgroup / "cgroup.procs").read_text().split()
        except OSError:
            pids = []
        for pid in map(int, pids):
            cpu = _cpu_of(pid)
            if cpu is None:
                continue
            key = (pid, cpu[1])
            kind = seen[key][0] if key in seen else _kind(pid, process.pid)
            if kind:
                seen[key] = (kind, cpu[0])
        time.sleep(0.02)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    parts = collections.Counter({"kernels": sum(kernels.values())})
    for kind, cpu in seen.values():
        parts[kind] += cpu
    return wall, sandbox.cpu_seconds_in(cgroup, version), parts


def own_cgroup(name):
    """A new cpuacct cgroup below this process's, as (folder, version); SystemExit if none can be made."""
    cgroup = sandbox.Cgroup.create(name, sandbox.Limits(memory_bytes=2 ** 40, processes=2 ** 20))
    if cgroup is None:
        print("error: this benchmark needs a cgroup of its own: run it as root.", file=sys.stderr)
        sys.exit(2)
    return cgroup, cgroup.cpu_folder, cgroup.version


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=5)
    args = parser.parse_args()
    cgroup, folder, version = own_cgroup(f"bench-cpu-{os.getpid()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            submissions = work / "submissions"
            sample.write_class(submissions, copies=args.copies, assignments=[ASSIGNMENT])
            for student in submissions.iterdir():
                if LEFT_OUT in student.name:
                    shutil.rmtree(student)
            n = sum(1 for _ in submissions.iterdir())
            notebooks = n * len(list((ROOT / "source" / ASSIGNMENT).glob("*.ipynb")))
            command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(work / "out"),
                       "--workers", str(args.workers), "--timeout", str(args.timeout)]
            wall, total, parts = measured(command, folder, version)
    finally:
        cgroup.remove()
    cpus = os.cpu_count()
    print(f"class: {n} submissions, {notebooks} notebooks (the sample class without its endless loop), "
          f"--workers {args.workers}, {cpus} CPUs")
    print(f"wall time {wall:.1f} s ({wall / notebooks:.3f} s a notebook); CPU time {total:.1f} s "
          f"({total / notebooks:.3f} s a notebook)")
    rest = total - sum(parts.values())
    for kind in ("kernels", "workers", "fork servers", "coordinator"):
        print(f"  {kind:13s} {parts[kind]:7.1f} s  {parts[kind] / notebooks:.3f} CPU-s a notebook  "
              f"{parts[kind] / total:4.0%}")
    print(f"  {'the rest':13s} {rest:7.1f} s  {rest / notebooks:.3f} CPU-s a notebook  {rest / total:4.0%}")
    print(f"least wall time a notebook on {cpus} CPUs if only the kernels cost anything: "
          f"{parts['kernels'] / notebooks / cpus:.3f} s")


if __name__ == "__main__":
    main()
