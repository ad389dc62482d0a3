"""Benchmark: grade a synthetic class three ways and print seconds per submission and ratios.

    .venv/bin/python bench/bench_grading.py [--copies 2] [--workers N] [--timeout 5]

1. plain nbgrader: `nbgrader autograde` then `nbgrader generate_feedback` over the whole class
   (one process, one notebook after another), in a course with the same configuration and the
   sandbox, with cold kernels (a new Python per notebook, as nbgrader starts them);
2. `python -m autograder grade --workers 1`;
3. `python -m autograder grade --workers N` (default: the number of CPUs), with warm kernels (the
   default) and with cold ones (AUTOGRADER_KERNELS=cold), and with 2N workers; with the fraction of
   the machine's CPUs busy while it ran;
4. `python -m autograder grade --scheduler ADDRESS` on a local Dask cluster of N one-thread workers
   (`dask scheduler` and `dask worker --nworkers N`, as on a real cluster; start-up not timed);
5. one submission's latency, command to results/<id>.json (and to the command's end): alone into
   a new OUT, one more student arriving in the OUT of the graded class (the other students
   are not graded again), and `autograder submit` of one more student to `autograder serve`
   running on the graded class's OUT (with --feedback now and later; the service grades a lone
   submission in parts, one per worker).
The class is autograder.sample's (16 students: typical mistakes and broken files) times --copies,
under shuffled student ids: in a real class ids say nothing of the work, while the sample class
numbers its slowest submissions (an endless loop, a dead kernel) last, so that with two workers
one of them would grade those alone at the end. --sample-order keeps that worst-case order.
Run by hand, not by `make test`: timings depend on the machine.
"""

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import sample  # noqa: E402
ASSIGNMENT = "rnn_step_by_step"  # the assignment benchmarked

CONFIG = '''import sys
sys.path.insert(0, {root!r})
from autograder.course import nbgrader_config
c = get_config()
c.merge(nbgrader_config({course!r}, timeout={timeout}))
'''


def shuffled_ids(folder, expected, seed=0):
    """Rename each student folder to a shuffled id (student_000, ...); returns the new expected scores."""
    names = sorted(expected)
    ids = [f"student_{i:03d}" for i in range(len(names))]
    random.Random(seed).shuffle(ids)
    for name, new in zip(names, ids):
        (folder / name).rename(folder / new)
    return {new: expected[name] for name, new in zip(names, ids)}


COLD = dict(os.environ, AUTOGRADER_KERNELS="cold")


def _cpu_jiffies():
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)  # idle and iowait are not busy


BUSY = {}  # command's label: the fraction of all CPUs busy while it ran (a pipeline that waits shows here)


def timed(command, label=None, **kwargs):
    busy, total = _cpu_jiffies()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    seconds = time.perf_counter() - start
    if label:
        busy_after, total_after = _cpu_jiffies()
        BUSY[label] = (busy_after - busy) / max(1, total_after - total)
    return seconds


def plain_nbgrader(submissions, work, timeout):
    course = work / "plain"
    shutil.copytree(ROOT / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    shutil.copytree(submissions, course / "submitted")
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(ROOT), course=str(course), timeout=timeout))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(nbgrader + ["generate_assignment", ASSIGNMENT, "--force"], cwd=course, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # nbgrader exits non-zero when any student failed (dead kernel, unreadable notebook): expected here.
    start = time.perf_counter()
    subprocess.run(nbgrader + ["autograde", ASSIGNMENT], cwd=course, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=dict(COLD, PYTHONPATH=str(ROOT)))
    autograde = time.perf_counter() - start
    subprocess.run(nbgrader + ["generate_feedback", ASSIGNMENT], cwd=course, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return autograde, time.perf_counter() - start


def to_results_file(submissions, out, student, timeout):
    """Seconds from the command to OUT/results/<student>.json, and to the command's end."""
    return _timed_until(["grade", str(submissions), "--out", str(out), "--workers", "1", "--timeout", str(timeout)],
                        out / "results" / f"{student}.json")


def _timed_until(arguments, results_file):
    """Seconds from `python -m autograder ARGUMENTS` to `results_file`, and to the command's end."""
    results_file.unlink(missing_ok=True)
    start = time.perf_counter()
    command = subprocess.Popen([sys.executable, "-m", "autograder", *arguments], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    while command.poll() is None:
        if first is None and results_file.exists():
            first = time.perf_counter() - start
        time.sleep(0.005)
    if command.returncode != 0:
        raise subprocess.CalledProcessError(command.returncode, command.args)
    end = time.perf_counter() - start
    return first or end, end


def to_service(first, work, out, workers, timeout, *extra, tries=3):
    """Seconds from `autograder submit` to OUT/results/<id>.json, and to the command's end, for one
    submission after another into a service (`autograder serve`) on OUT: each a copy of `first`
    under a new id; the medians of `tries`."""
    service = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--out", str(out), "--workers",
                                str(workers), "--timeout", str(timeout), "--assignment", ASSIGNMENT, *extra],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (out / "grader.sock").exists():
            if service.poll() is not None:
                raise subprocess.CalledProcessError(service.returncode, service.args)
            time.sleep(0.05)
        time.sleep(2)  # the workers' fork servers ready
        firsts, ends = [], []
        for i in range(tries):
            student = f"served_{out.name}_{i}"
            shutil.copytree(first, work / student / student)
            seen, end = _timed_until(["submit", str(work / student), "--out", str(out)],
                                     out / "results" / f"{student}.json")
            firsts.append(seen)
            ends.append(end)
            time.sleep(1)
    finally:
        service.terminate()
        service.wait()
    return sorted(firsts)[tries // 2], sorted(ends)[tries // 2]


def ours(submissions, out, workers, timeout, *extra, env=None, label=None):
    return timed([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
                  "--workers", str(workers), "--timeout", str(timeout), *extra], label, cwd=ROOT, env=env)


@contextlib.contextmanager
def dask_cluster(workers, folder):
    """A Dask scheduler and `workers` one-thread workers on loopback; yields the scheduler's address."""
    from dask.distributed import Client
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    address_file = folder / "scheduler.json"
    quiet = dict(env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--scheduler-file", str(address_file), "--no-dashboard"], **quiet)
    while not address_file.exists():
        time.sleep(0.2)
    time.sleep(0.5)
    address = json.loads(address_file.read_text())["address"]
    worker_processes = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers",
                                         str(workers), "--nthreads", "1", "--no-dashboard"], **quiet)
    try:
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in (worker_processes, scheduler):
            process.terminate()
            process.wait()


def on_cluster(submissions, out, address, timeout):
    return timed([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
                  "--scheduler", address, "--timeout", str(timeout)], cwd=ROOT)


def scores(out):
    with open(out / "grades.csv") as f:
        return {row["student_id"]: row["score"] for row in csv.DictReader(f)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--timeout", type=int, default=5)
    parser.add_argument("--sample-order", action="store_true", help="keep the sample class's ids (slowest last)")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = str(ROOT)
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        expected = sample.write_class(work / "submissions", copies=args.copies, assignments=[ASSIGNMENT])[ASSIGNMENT]
        if not args.sample_order:
            expected = shuffled_ids(work / "submissions", expected)
        n = len(expected)
        print(f"class: {n} submissions ({'sample order, slowest last' if args.sample_order else 'shuffled ids'}), "
              f"{os.cpu_count()} CPUs, cell timeout {args.timeout} s")
        plain_autograde, plain_total = plain_nbgrader(work / "submissions", work, args.timeout)
        one = ours(work / "submissions", work / "out1", 1, args.timeout, label="1")
        many = ours(work / "submissions", work / "outN", args.workers, args.timeout, label="N")
        # More workers than CPUs: a worker waits while its kernel runs, and the other way round.
        twice = ours(work / "submissions", work / "out2N", 2 * args.workers, args.timeout, label="2N")
        cold = ours(work / "submissions", work / "outC", args.workers, args.timeout, env=COLD)
        later = ours(work / "submissions", work / "outL", args.workers, args.timeout, "--feedback", "later")
        pages = timed([sys.executable, "-m", "autograder", "feedback", str(work / "outL"),
                       "--workers", str(args.workers)], cwd=ROOT)
        (work / "dask").mkdir()
        with dask_cluster(args.workers, work / "dask") as address:
            dask = on_cluster(work / "submissions", work / "outD", address, args.timeout)
        first = sorted((work / "submissions").iterdir())[0]
        shutil.copytree(first, work / "alone" / "latecomer")
        alone, alone_end = to_results_file(work / "alone", work / "outA", "latecomer", args.timeout)
        shutil.copytree(first, work / "submissions" / "latecomer")
        one_more, one_more_end = to_results_file(work / "submissions", work / "outN", "latecomer", args.timeout)
        served, served_end = to_service(first, work / "served", work / "outN", args.workers, args.timeout)
        served_later, served_later_end = to_service(first, work / "served", work / "outL", args.workers,
                                                    args.timeout, "--feedback", "later")
        late = {student: score for out in ("outN", "outL") for student, score in scores(work / out).items()
                if student == "latecomer" or student.startswith("served_")}
        latency_right = set(late.values()) == {scores(work / "outA")["latecomer"]} == {scores(work / "outN")[first.name]}

        def the_class(out):
            return {student: score for student, score in scores(work / out).items() if student not in late}
        identical = the_class("out1") == the_class("outN") == the_class("outD") == the_class("outL") \
            == the_class("outC") == the_class("out2N")
        right = scores(work / "out1") == {s: f"{v:g}" for s, v in expected.items()}
    rows = [("plain nbgrader autograde", plain_autograde), ("plain nbgrader autograde + feedback", plain_total),
            ("autograder --workers 1", one), (f"autograder --workers {args.workers}", many),
            (f"autograder --workers {2 * args.workers}", twice),
            (f"autograder --workers {args.workers}, cold kernels", cold),
            (f"autograder --workers {args.workers} --feedback later", later),
            ("  then autograder feedback (the pages)", pages),
            (f"autograder --scheduler (Dask, {args.workers} workers)", dask)]
    notebooks = len(list((ROOT / "source" / ASSIGNMENT).glob("*.ipynb")))
    for name, seconds in rows:
        print(f"{name:38s} {seconds:8.1f} s  {seconds / n:6.2f} s/submission  {seconds / n / notebooks:5.2f} s/notebook")
    print(f"one submission alone, new OUT:          {alone:8.1f} s to its results file ({alone_end:.1f} s to the end)")
    print(f"one more submission, graded OUT:        {one_more:8.1f} s to its results file ({one_more_end:.1f} s to the "
          f"end)")
    print(f"one submission into a running service:  {served:8.1f} s to its results file ({served_end:.1f} s to the "
          f"end of `submit`; `serve --workers {args.workers}` on the graded class, median of 3)")
    print(f"  the same, serve --feedback later:     {served_later:8.1f} s ({served_later_end:.1f} s); every late "
          f"submission's score as alone and as its twin's: {latency_right}")
    print(f"--workers 1 vs plain nbgrader (autograde + feedback): {plain_total / one:.2f}x "
          f"(>= 1 means no slower)")
    print(f"--workers 1 vs plain nbgrader autograde alone:        {plain_autograde / one:.2f}x")
    print(f"--workers {args.workers} speed-up over --workers 1:            {one / many:.2f}x")
    print(f"--workers {2 * args.workers} over --workers {args.workers}:                  {many / twice:.2f}x")
    print(f"CPUs busy while grading: --workers 1 {BUSY['1']:.0%}, --workers {args.workers} {BUSY['N']:.0%}, "
          f"--workers {2 * args.workers} {BUSY['2N']:.0%}")
    print(f"warm kernels vs cold ones, --workers {args.workers}:            {cold / many:.2f}x")
    print(f"Dask cluster of {args.workers} workers vs --workers {args.workers}:        {many / dask:.2f}x")
    print(f"--feedback later vs now, --workers {args.workers}:              {many / later:.2f}x "
          f"(pages made later, all at once: {pages / n:.2f} s/submission)")
    print(f"scores identical for --workers 1, {args.workers} (warm and cold), {2 * args.workers}, feedback later and the cluster: "
          f"{identical}; "
          f"all as expected: {right}")


if __name__ == "__main__":
    main()
