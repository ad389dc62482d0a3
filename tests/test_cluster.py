"""Grading on a Dask cluster: the fixture class through a local cluster of two workers
(started with the same `dask scheduler` / `dask worker` commands a real cluster uses) gets
the local pool's exact scores, and a worker killed mid-run costs a retry, never a lost
or doubled result."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from autograder import sample
from tests.helpers import RNN, ROOT, grade, results, stop

FIXTURES = ROOT / "tests" / "fixtures" / "class"
EXPECTED = {f"s{i:02d}_{name}": score for i, (name, (score, _)) in enumerate(sample.students(RNN).items(), 1)}
DASK = [sys.executable, "-m"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(scheduler address, Client) of a scheduler and two one-thread workers on loopback."""
    from dask.distributed import Client
    folder = tmp_path_factory.mktemp("dask")
    address_file = folder / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the workers import autograder from the repository
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen(DASK + ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                             "--scheduler-file", str(address_file), *common],
                                 env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=open(folder / "scheduler.log", "w"))
    deadline = time.monotonic() + 60
    while not address_file.exists():
        assert time.monotonic() < deadline and scheduler.poll() is None, "the Dask scheduler did not start"
        time.sleep(0.2)
    time.sleep(0.5)  # the file is written whole only once the scheduler listens
    address = json.loads(address_file.read_text())["address"]
    workers = subprocess.Popen(DASK + ["distributed.cli.dask_worker", address, "--nworkers", "2", "--nthreads", "1",
                                           "--memory-limit", "4GiB", *common],
                               env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=open(folder / "workers.log", "w"))
    client = Client(address, timeout="60s")
    client.wait_for_workers(2, timeout=120)
    yield address, client
    client.close()
    for process in (workers, scheduler):
        stop(process)


def scores(out):
    return {path.stem: json.loads(path.read_text())["score"] for path in (out / "results").glob("*.json")}


def some_students(folder, students):
    """A class of the fixture students `students`, copied into `folder`."""
    for student in students:
        shutil.copytree(FIXTURES / student, folder / student)
    return folder


def test_the_cluster_gives_the_local_pool_s_exact_scores(cluster, tmp_path):
    """A class with every kind of outcome but the slow endless loop (test_grade_e2e has it)."""
    address, _ = cluster
    students = [s for s in EXPECTED if s not in ("s14_infinite_loop", "s06_time_forwards", "s07_float32",
                                                     "s08_numpy_warning", "s12_deleted_test_cell")]
    run = grade(some_students(tmp_path / "class", students), tmp_path / "out", "--scheduler", address)
    assert run.returncode == 0, run.stderr
    assert f"with the Dask cluster at {address}" in run.stdout
    assert scores(tmp_path / "out") == {s: EXPECTED[s] for s in students}
    died = {t["name"]: t["output"] for t in results(tmp_path / "out", "s15_dead_kernel")["tests"]}
    assert died["rnn_cell_backward_shapes"].startswith("KernelDied")  # the sandbox's restarts work there too


def test_a_worker_killed_mid_run_costs_a_retry_not_a_result(cluster, tmp_path):
    address, client = cluster
    students = ["s01_complete", "s03_tanh_twice", "s04_yt_from_a_prev", "s06_time_forwards", "s07_float32",
                "s16_lstm_dc_next_forgotten"]
    some_students(tmp_path / "class", students)
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(tmp_path / "class"), "--out", str(out),
                            "--timeout", "5", "--scheduler", address], cwd=ROOT, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (busy := {w: keys for w, keys in client.processing().items() if keys}):
        assert time.monotonic() < deadline and run.poll() is None, "no grading task ever ran"
        time.sleep(0.1)
    victim = next(iter(busy))
    pids_before = client.run(os.getpid)
    os.kill(pids_before[victim], signal.SIGKILL)  # mid-grading: its task is under way
    stdout, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr
    graded = {path.stem for path in (out / "results").glob("*.json")}
    with open(out / "grades.csv") as f:
        rows = [line.split(",")[0] for line in f.read().splitlines()[1:]]
    assert sorted(rows) == sorted(students) == sorted(graded), "every student exactly once"
    assert scores(out) == {s: EXPECTED[s] for s in students}
    client.wait_for_workers(2, timeout=120)
    assert set(client.run(os.getpid).values()) != set(pids_before.values()), "the killed worker was replaced"


def test_an_unreachable_scheduler_is_the_instructor_s_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "3s")  # Dask's own setting; 30 s by default
    run = grade(FIXTURES, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9")
    assert run.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in run.stderr
