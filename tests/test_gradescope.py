"""Issue 18: the Gradescope autograder. `python -m autograder gradescope` builds the zip; it is
unpacked into a temporary root laid out as Gradescope's /autograder (the scripts take the root
from AUTOGRADER_ROOT), setup.sh installs a fresh venv from the zip's pins, and run_autograder
grades three submissions (right, wrong, hostile): each results.json must follow the
specification (autograder/gradescope/results.schema.json) and carry the scores `grade` gives."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograder import hidden
from autograder.gradescope import NOT_FOR_GRADING, SCHEMA, grading_requirements
from tests.helpers import ROOT, grade, results

ASSIGNMENT = "rnn_step_by_step"
FIXTURES = ROOT / "tests" / "fixtures"
# right, wrong (tanh applied twice), hostile (patches numpy's comparisons; a link to /etc/passwd beside it)
STUDENTS = {"right": FIXTURES / "class" / "s01_complete", "wrong": FIXTURES / "class" / "s03_tanh_twice",
            "hostile": FIXTURES / "hostile" / "h17_patched_comparisons"}
EXPECTED = {"right": 24, "wrong": 22, "hostile": 21}


def test_the_zip_has_what_gradescope_needs_at_its_root(tmp_path):
    run = subprocess.run([sys.executable, "-m", "autograder", "gradescope", "--out", str(tmp_path / "ag.zip"),
                          "--assignment", ASSIGNMENT], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "ag.zip") as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        pins = archive.read("requirements.txt").decode().split()
        key = archive.read(hidden.KEY)
    # the key each submission's hidden inputs are drawn with: made for this zip, its owner's alone
    assert len(key) == hidden.KEY_BYTES and key != bytes(hidden.KEY_BYTES) and modes[hidden.KEY] & 0o077 == 0
    assert {"setup.sh", "run_autograder", "autograder/gradescope/run.py", "rnn_utils.py",
            f"source/{ASSIGNMENT}/4_lstm.ipynb", f"source/{ASSIGNMENT}/images/lstm_cell.png"} <= names
    assert {f"source/{ASSIGNMENT}/{path.name}" for path in (ROOT / "source" / ASSIGNMENT).glob("*.py")} <= names
    assert {"rnn_checks.py", "rnn_relations.py"} <= names  # what the course's rnn_utils loads from beside it
    assert not any(name.startswith("source/char_language_model") for name in names)  # one assignment a zip
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not any(mode & 0o170000 == 0o120000 for mode in modes.values())  # no links
    assert "nbgrader==0.9.6" in pins and not any(pin.split("==")[0].lower() in NOT_FOR_GRADING for pin in pins)
    assert set(pins) <= set((ROOT / "requirements.txt").read_text().split())  # the same pins, fewer


def test_bad_input_exits_2(tmp_path):
    for extra, message in ((["--assignment", "hw9"], "no assignment 'hw9'"), ([], "several assignments"),
                           (["--assignment", ASSIGNMENT, "--late-policy", "much"], "unknown late"),
                           (["--test-visibility", "sometimes"], "invalid choice")):
        run = subprocess.run([sys.executable, "-m", "autograder", "gradescope", "--out", str(tmp_path / "a.zip"),
                              *extra], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert run.returncode == 2 and message in run.stderr, run.stderr


def test_grading_requirements_drop_only_test_tools():
    assert grading_requirements("numpy==2.4.6\npytest==9.2.0\nPyYAML==6.0.4\n") == "numpy==2.4.6\nPyYAML==6.0.4\n"


@pytest.fixture(scope="module")
def gradescope_root(tmp_path_factory):
    """The zip unpacked as Gradescope does (/autograder/source), setup.sh run into a fresh venv."""
    base = tmp_path_factory.mktemp("gradescope")
    zip_path = base / "autograder.zip"
    built = subprocess.run([sys.executable, "-m", "autograder", "gradescope", "--out", str(zip_path),
                            "--assignment", ASSIGNMENT, "--test-visibility", "visible"], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
    assert built.returncode == 0, built.stderr
    root = base / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")  # our own zip, just built
    for name in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / name, 0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_VENV=str(base / "venv"), XDG_CACHE_HOME=str(base / "cache"))
    started = time.monotonic()
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True, text=True, env=env,
                           cwd=root, timeout=900)
    print(f"setup.sh took {time.monotonic() - started:.0f} s")
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    assert (base / "venv" / "bin" / "python").exists()
    assert len(_prepared(env)) == 1, setup.stdout  # the assignment's template, for every run
    return root, env


def _prepared(env):
    """{template: when it was written} in the cache of registered templates setup.sh filled."""
    return {path.name: path.stat().st_mtime_ns
            for path in (Path(env["XDG_CACHE_HOME"]) / "autograder" / "registered").glob("*")}


def run_autograder(root, env, student, folder):
    """One Gradescope run: the student's upload in /autograder/submission (under names of their
    own), Gradescope's metadata beside it; returns results.json, parsed."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    for path in sorted((folder / ASSIGNMENT).glob("*.ipynb")):
        shutil.copy(path, root / "submission" / f"{student}_{path.name}")
    if student == "hostile":
        (root / "submission" / "4_lstm (2).ipynb").symlink_to("/etc/passwd")
    (root / "submission_metadata.json").write_text(json.dumps({
        "id": 1, "created_at": "2026-11-20T10:00:00.000000-08:00",
        "assignment": {"due_date": "2026-12-20T23:00:00.000000-08:00", "title": "RNN", "total_points": "24.0"},
        "users": [{"email": f"{student}@example.edu", "id": 7, "name": student.title(), "sid": student}]}))
    run = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, env=env, cwd=root,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_warm_kernels_start_where_the_grader_is_not_installed(gradescope_root):
    """Gradescope's venv has the requirements, not the grader (run_autograder puts the source on
    PYTHONPATH): the fork server of warm kernels must find it there, or every kernel starts cold."""
    root, env = gradescope_root
    python = Path(env["AUTOGRADER_VENV"]) / "bin" / "python"
    hello = subprocess.run([str(python), "-c", "from autograder.warm import ForkServer\n"
                            "server = ForkServer(); server._hello(); print(server.ready); server.stop()"],
                           capture_output=True, text=True, env=dict(env, PYTHONPATH=str(root / "source")),
                           cwd=root, timeout=120)
    assert hello.stdout.split() == ["True"], hello.stderr[-2000:]


def test_run_autograder_gives_grades_scores_in_gradescopes_format(gradescope_root, tmp_path):
    root, env = gradescope_root
    schema = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    prepared = _prepared(env)
    on_gradescope = {student: run_autograder(root, env, student, folder) for student, folder in STUDENTS.items()}
    # Each run took setup.sh's template: none made another (nbgrader generate_assignment, seconds each).
    assert _prepared(env) == prepared
    for student, found in on_gradescope.items():
        schema.validate(found)
        assert found["score"] == EXPECTED[student], (student, found["output"])
        assert {t["visibility"] for t in found["tests"]} == {"visible"}  # as the zip was built
    # `grade` on the same three submissions: the same scores, test by test, and the same messages but
    # where a message points into a hidden input (the largest error's index): each submission's hidden
    # inputs are drawn under its course's key (the zip's, OUT's), from its files (here its times differ)
    for student, folder in STUDENTS.items():
        shutil.copytree(folder, tmp_path / "class" / student)
    graded = grade(tmp_path / "class", tmp_path / "out", "--workers", "2", timeout="60")
    assert graded.returncode == 0, graded.stderr

    def tests(found):
        return [(t["name"], t["score"], re.sub(r"at index \([\d, ]*\)", "at index (…)", t["output"]))
                for t in found["tests"]]
    for student, found in on_gradescope.items():
        local = results(tmp_path / "out", student)
        schema.validate(local)
        assert tests(local) == tests(found)
    hostile = on_gradescope["hostile"]
    assert "a symbolic link" in hostile["output"] or "set aside" in hostile["output"]


def test_the_zip_of_an_assignment_that_runs_an_earlier_ones_functions_grades_alone(tmp_path):
    """char_language_model's training step calls the first assignment's rnn_forward: its zip
    carries that assignment's source too (the reference those calls are graded against), says
    which one it grades, and grades a submission with nothing else beside it."""
    lm, student = "char_language_model", FIXTURES / "class_char_language_model" / "s08_not_clipped"
    built = subprocess.run([sys.executable, "-m", "autograder", "gradescope", "--out", str(tmp_path / "lm.zip"),
                            "--assignment", lm, "--test-visibility", "visible"], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
    assert built.returncode == 0, built.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "lm.zip") as archive:
        names = set(archive.namelist())
        archive.extractall(root / "source")
    assert {f"source/{lm}/3_training.ipynb", f"source/{ASSIGNMENT}/2_rnn_forward.ipynb"} <= names
    assert json.loads((root / "source" / "gradescope.json").read_text())["assignment"] == lm
    (root / "submission").mkdir()
    for path in sorted((student / lm).glob("*.ipynb")):
        shutil.copy(path, root / "submission" / f"student_{path.name}")
    (root / "submission_metadata.json").write_text(json.dumps({
        "id": 2, "created_at": "2026-11-20T10:00:00.000000-08:00",
        "assignment": {"due_date": "2026-12-20T23:00:00.000000-08:00", "title": "LM", "total_points": "15.0"},
        "users": [{"email": "s@example.edu", "id": 8, "name": "S", "sid": "s08"}]}))
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
    run = subprocess.run([sys.executable, "-m", "autograder.gradescope.run", "--root", str(root)],
                         capture_output=True, text=True, env=env, cwd=root / "source", timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    found = json.loads((root / "results" / "results.json").read_text())
    assert found["score"] == 13
    step = next(t for t in found["tests"] if t["name"] == "rnn_train_step_values")
    assert "Known mistake: the gradients not clipped" in step["output"]


def test_a_zip_of_an_assignment_that_cannot_be_graded_is_refused_in_one_sentence(tmp_path):
    """Its exercises take functions from an assignment the course has not: exit 2, no zip."""
    source = tmp_path / "source" / "char_language_model"
    shutil.copytree(ROOT / "source" / "char_language_model", source)
    declarations = source / "exercises.py"
    declarations.write_text(declarations.read_text().replace('{"rnn_step_by_step": (', '{"rnn_basics": ('))
    run = subprocess.run([sys.executable, "-m", "autograder", "gradescope", "--out", str(tmp_path / "lm.zip"),
                          "--source", str(source)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and "the assignment char_language_model cannot be graded" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "lm.zip").exists()
