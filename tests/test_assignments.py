"""A course of many assignments: each declared once (exercises.py, grading.py beside its notebooks),
graded alone or together, a new one added without touching any other file."""

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder import reference, release, sample
from tests.helpers import ROOT, grade, results

LM = "char_language_model"
LM_FIXTURES = ROOT / "tests" / "fixtures" / "class_char_language_model"


def test_the_course_has_both_assignments():
    assert reference.assignments() == [LM, "rnn_step_by_step"]
    assert reference.named(LM).functions == ("temporal_softmax_loss", "clip_gradients", "sample_characters",
                                             "rnn_train_step", "train_char_model")
    # Its training step runs the first assignment's RNN: graded against that assignment's reference.
    assert {name: a.name for name, a in reference.named(LM).earlier.items()} == dict.fromkeys(
        ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward"), "rnn_step_by_step")


# --- the grader holds no list of the exercises -------------------------------------------------

EIGHT = ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward",
         "lstm_cell_forward", "lstm_forward", "lstm_cell_backward", "lstm_backward")


def test_no_list_of_the_rnn_functions_in_the_grader():
    """What an exercise is lives in its declaration (source/<assignment>/exercises.py and
    grading.py): the grader's code and the shared modules name none of the functions, nor a
    notebook (prose, a docstring or a comment, may name one as an example)."""
    import ast
    files = sorted((ROOT / "autograder").rglob("*.py")) + [ROOT / name for name in
                                                            ("rnn_utils.py", "rnn_checks.py", "rnn_relations.py")]
    for path in files:
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                named = [name for name in EIGHT if re.search(rf"\b{name}\b", node.value)]
                assert not named and "1_rnn_cell_forward" not in node.value, \
                    f"{path.relative_to(ROOT)}:{node.lineno} names {named or node.value!r} in code"
            if isinstance(node, ast.Name):
                assert node.id not in EIGHT, f"{path.relative_to(ROOT)}:{node.lineno} calls {node.id}"


# --- a throwaway assignment, in a folder of its own --------------------------------------------

EXERCISES = '''
"""A throwaway assignment: one function."""
import numpy as np

Exercise = globals()["Exercise"]


def example_inputs(seed=1, m=3, T_x=2):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((2, m, T_x))}


EXAMPLES = {"the example": {}, "one step of one example": dict(seed=2, m=1, T_x=1)}

EXERCISES = {exercise.name: exercise for exercise in (
    Exercise("double_and_sum", "notebook 1", ("x",), ("doubled", "total"), lambda ex: (ex["x"],),
             shown=(("doubled", (0, 0, 0)),), returns=("doubled", "total")),
)}
'''

ANSWER = "    doubled = 2 * x\n    total = np.sum(doubled)\n"


def throwaway_notebook():
    def cell(source, grade_id, **flags):
        meta = {"grade": False, "solution": False, "locked": True, "schema_version": 3, "task": False,
                "grade_id": grade_id, **flags}
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})
    hidden = "### BEGIN HIDDEN TESTS\nfrom autograder.probe import probe; probe(\"double_and_sum_{0}\", globals())\n" \
             "### END HIDDEN TESTS\nrnn_utils.check_double_and_sum_{0}(double_and_sum)"
    nb = nbformat.v4.new_notebook(cells=[
        cell("import numpy as np\nimport rnn_utils", "imports"),
        cell("def double_and_sum(x):\n    \"\"\"x (2, m, T_x) -> (2 * x, the sum of 2 * x)\"\"\"\n"
             "    ### BEGIN SOLUTION\n" + ANSWER + "    ### END SOLUTION\n    return doubled, total",
             "double_and_sum", solution=True, locked=False),
        cell(hidden.format("shapes"), "double_and_sum_shapes", grade=True, points=1),
        cell(hidden.format("values"), "double_and_sum_values", grade=True, points=2),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def tree_digest(paths):
    h = hashlib.sha256()
    for top in paths:
        for path in sorted(Path(top).rglob("*")) if Path(top).is_dir() else [Path(top)]:
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


def test_a_throwaway_assignment_is_released_and_graded_without_touching_any_other_file(tmp_path):
    """One notebook, one function, one declaration, in a course folder of its own: released,
    its visible tests and hidden tests run, graded; nothing of the repository changes."""
    watched = [ROOT / "autograder", ROOT / "source", ROOT / "release", ROOT / "rnn_utils.py",
               ROOT / "rnn_checks.py", ROOT / "rnn_relations.py"]
    before = tree_digest(watched)
    course = tmp_path / "course"
    source = course / "source" / "throwaway"
    source.mkdir(parents=True)
    (source / "exercises.py").write_text(EXERCISES)
    for name in ("rnn_utils.py", "rnn_checks.py", "rnn_relations.py"):  # what students import, as each assignment ships it
        shutil.copy(ROOT / name, source / name)
    nbformat.write(throwaway_notebook(), source / "1_double.ipynb")

    [released] = release.generate(course, assignment="throwaway")
    assert sorted(p.name for p in released.iterdir()) == [
        "1_double.ipynb", "exercises.py", "rnn_checks.py", "rnn_relations.py", "rnn_utils.py", "visible_expected.json"]
    stub = nbformat.read(released / "1_double.ipynb", as_version=4)
    assert "raise NotImplementedError()" in stub.cells[1].source and "probe(" not in stub.cells[2].source

    submissions = tmp_path / "submissions"
    for student, answer in (("s1_right", ANSWER), ("s2_wrong", ANSWER.replace("2 * x", "3 * x"))):
        nb = sample.answered(nbformat.read(released / "1_double.ipynb", as_version=4), throwaway_notebook())
        nb.cells[1].source = nb.cells[1].source.replace(ANSWER, answer)
        (submissions / student / "throwaway").mkdir(parents=True)
        nbformat.write(nb, submissions / student / "throwaway" / "1_double.ipynb")
    out = tmp_path / "out"
    run = grade(submissions, out, "--source", str(source), "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert results(out, "s1_right")["score"] == 3
    wrong = results(out, "s2_wrong")
    assert wrong["score"] == 1  # its shapes are right, its values are not: visible and hidden tests agree
    message = next(t["output"] for t in wrong["tests"] if t["name"] == "double_and_sum_values")
    assert "double_and_sum" in message and "doubled" in message
    assert tree_digest(watched) == before


# --- the second assignment, graded alone and with the first ------------------------------------

def test_every_answered_release_passes_its_visible_tests_in_a_students_course_folder(tmp_path):
    """As a student has them, each assignment's folder beside the others, every notebook answered:
    each graded notebook runs without an error. The training notebook runs the student's own RNN,
    read from the first assignment's folder beside it (nbval on source/ cannot show this: there
    its tests run on the reference's oracles)."""
    from nbclient import NotebookClient
    course = tmp_path / "course"
    for name in reference.assignments():
        shutil.copytree(ROOT / "release" / name, course / name)
        for notebook, data in sample.student_notebooks(reference.named(name), "complete").items():
            (course / name / f"{notebook}.ipynb").write_bytes(data)
    printed = {}
    for name in reference.assignments():
        for path in sorted(reference.named(name).source.glob("*.ipynb")):
            nb = nbformat.read(course / name / path.name, as_version=4)
            NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(course / name)}}).execute()
            printed[path.name] = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))
            assert "All value tests passed." in printed[path.name], (name, path.name)
    assert "rnn_backward: from 3_rnn_backward.ipynb" in printed["3_training.ipynb"]


def test_the_second_assignments_fixture_class_is_fresh(tmp_path):
    from tests.helpers import assert_same_tree
    sample.write_class(tmp_path, assignments=[LM])
    assert_same_tree(LM_FIXTURES, tmp_path, "make fixtures")


@pytest.fixture(scope="module")
def graded_lm(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "out"
    run = grade(LM_FIXTURES, out, "--workers", "2")
    assert run.returncode == 0, run.stderr
    return out


def test_the_second_assignment_gets_the_exact_scores_its_declaration_states(graded_lm):
    expected = {student: score for student, (_, score) in sample.student_ids(reference.named(LM)).items()}
    with open(graded_lm / "grades.csv", newline="") as f:
        got = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert got == expected


@pytest.mark.parametrize("student, test, mistake", [
    ("s03_loss_not_averaged", "temporal_softmax_loss_values", "the loss summed over the batch, not averaged"),
    ("s04_no_minus_one_at_target", "temporal_softmax_loss_values", "the one at the target not subtracted"),
    ("s05_clipped_by_value", "clip_gradients_values", "each value clipped instead of the global norm"),
    ("s06_temperature_after_softmax", "sample_characters_values", "the temperature applied after the softmax"),
    # Named although the sandbox has no rnn_forward: the oracles answer the calls the mistake makes.
    ("s08_not_clipped", "rnn_train_step_values", "the gradients not clipped"),
    ("s09_loss_of_probabilities", "rnn_train_step_values", "the loss taken of y_pred, the softmax applied twice"),
    ("s10_hidden_state_reset", "train_char_model_values", "the hidden state reset to zeros at every chunk"),
])
def test_the_second_assignments_mistakes_are_named_in_results_and_feedback(graded_lm, student, test, mistake):
    message = next(t["output"] for t in results(graded_lm, student)["tests"] if t["name"] == test)
    assert f"Known mistake: {mistake}" in message
    pages = "".join(p.read_text() for p in (graded_lm / "feedback" / student / LM).glob("*.html"))
    assert mistake in pages


def test_a_class_of_both_assignments_is_graded_each_in_its_folder_and_reported_together(tmp_path):
    """`make demo`'s case: one submissions folder holding both assignments (nbgrader's layout),
    no --assignment: each graded into OUT/<assignment>/, then the course's grades.csv and report."""
    submissions = tmp_path / "submissions"
    for fixtures in (ROOT / "tests" / "fixtures" / "class", LM_FIXTURES):
        for student in ("s01_complete", "s02_blank"):
            shutil.copytree(fixtures / student, submissions / student, dirs_exist_ok=True)
    out = tmp_path / "out"
    run = grade(submissions, out, "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert (out / "report.png").stat().st_size > 10_000
    for name in (LM, "rnn_step_by_step"):
        assert results(out / name, "s01_complete")["score"] == {LM: 15, "rnn_step_by_step": 24}[name]
        assert (out / name / "course" / "gradebook.db").is_file()
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert rows["s01_complete"]["score"] == "39" and rows["s01_complete"]["max_score"] == "39"
    assert rows["s01_complete"][LM] == "15" and rows["s01_complete"]["rnn_step_by_step/4_lstm"] == "12"
    assert rows["s02_blank"]["score"] == "0"
    # each assignment's folder in a student's folder is that assignment's: nothing said of it in the other's
    assert "set aside" not in results(out / "rnn_step_by_step", "s01_complete")["output"]
    assert "set aside" not in results(out / LM, "s01_complete")["output"]
    # `report` rewrites the course's files from the gradebooks
    (out / "grades.csv").unlink()
    again = subprocess.run([sys.executable, "-m", "autograder", "report", str(out)], capture_output=True, text=True,
                           cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "s01_complete,39,39" in (out / "grades.csv").read_text()
    # ... each of them whole, by a new file renamed over the old: a reader that has the old one open (a
    # spreadsheet, an LMS upload, Gradescope's harness) reads all of it, never a file cut short
    one = out / "rnn_step_by_step"
    files = [out / "grades.csv", out / "report.png", one / "grades.csv", one / "report.png", one / "collection.csv",
             one / "results" / "s01_complete.json", one / "lms" / "canvas.csv", one / "lms" / "moodle.csv"]
    held = [open(path, "rb") for path in files]
    try:
        assert subprocess.run([sys.executable, "-m", "autograder", "report", str(out)], capture_output=True,
                              cwd=ROOT, timeout=300).returncode == 0
        assert grade(submissions, out).returncode == 0  # nothing to grade again: collection.csv and the reports
        for path, old in zip(files, held):
            assert os.fstat(old.fileno()).st_ino != path.stat().st_ino, path
    finally:
        for old in held:
            old.close()
    assert not list(out.rglob("*.part"))


def _two_of_the_class(folder):
    """Two students of the first assignment's class (its whole class is graded elsewhere: these
    tests are about where a grading goes, which two show as well as sixteen)."""
    return _course_class(folder, {"s01_complete": {"rnn_step_by_step": "s01_complete"},
                                  "s03_tanh_twice": {"rnn_step_by_step": "s03_tanh_twice"}})


def test_one_assignment_of_two_is_graded_by_name(tmp_path):
    out = tmp_path / "out"
    run = grade(_two_of_the_class(tmp_path / "class"), out, "--assignment", "rnn_step_by_step", "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert results(out, "s01_complete")["score"] == 24  # the layout of one assignment: OUT itself
    assert results(out, "s03_tanh_twice")["score"] == 22


@pytest.mark.parametrize("args, says", [
    (["--assignment", "no_such_thing"], "the course has no assignment 'no_such_thing'"),
    (["--assignment", LM, "--source", str(ROOT / "source" / "rnn_step_by_step")], "is the assignment rnn_step_by_step"),
])
def test_a_wrong_assignment_is_one_sentence_and_exit_2(tmp_path, args, says):
    run = grade(ROOT / "tests" / "fixtures" / "class", tmp_path / "out", *args)
    assert run.returncode == 2 and says in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_grading_declarations_stay_out_of_the_students_folders(graded_lm):
    """grading.py (hidden cases, mistakes) is never copied beside a student's notebooks."""
    course = graded_lm / "course"
    assert (course / "source" / LM / "grading.py").is_file()
    assert not [p for p in course.rglob("grading.py") if "source" not in p.relative_to(course).parts[:1]]


def test_sample_class_writes_every_assignment(tmp_path):
    run = subprocess.run([sys.executable, "-m", "autograder", "sample-class", str(tmp_path)], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "s01_complete" / LM / "2_sampling.ipynb").is_file()
    assert (tmp_path / "s01_complete" / "rnn_step_by_step" / "4_lstm.ipynb").is_file()
    assert json.loads((tmp_path / "s03_tanh_twice" / "rnn_step_by_step" / "3_rnn_backward.ipynb").read_text())


def test_a_hidden_check_outside_grading_finds_its_assignment():
    """An instructor's hidden.check from anywhere: the course's assignment that declares it."""
    from autograder import hidden
    functions = reference.named(LM).load()
    hidden.check("clip_gradients_values", {"clip_gradients": functions.clip_gradients})
    with pytest.raises(AssertionError, match="each value clipped instead of the global norm"):
        import numpy as np
        hidden.check("clip_gradients_values", {"clip_gradients": lambda g, n: {k: np.clip(v, -n, n)
                                                                              for k, v in g.items()}})


def test_an_assignment_without_grading_declarations_gets_the_defaults(tmp_path):
    source = tmp_path / "throwaway"
    source.mkdir()
    (source / "exercises.py").write_text(EXERCISES)
    nbformat.write(throwaway_notebook(), source / "1_double.ipynb")
    a = reference.of(source)
    assert a.functions == ("double_and_sum",) and a.mistakes == () and len(a.hidden_cases) == 2
    assert a.describe(a.hidden_cases[1]) == "a hidden input with m = 1, T_x = 1"
    assert [name for name in sample.students(a)] == ["complete", "blank", "missing_notebook"]
    assert textwrap.dedent(EXERCISES)  # the declaration is all it took


def _course_class(folder, students):
    """{student folder: {assignment: fixture student}} copied in nbgrader's layout."""
    fixtures = {"rnn_step_by_step": ROOT / "tests" / "fixtures" / "class", LM: LM_FIXTURES}
    for student, taken in students.items():
        for assignment, fixture in taken.items():
            shutil.copytree(fixtures[assignment] / fixture / assignment, folder / student / assignment)
    return folder


def test_a_student_has_one_id_in_every_assignment(tmp_path):
    """Ids are given out over the whole course: "Jose" (blank, the first assignment only) and "José"
    (complete, both) never share one, in any assignment or in the course's grades.csv."""
    submissions = _course_class(tmp_path / "submissions", {
        "Jose": {"rnn_step_by_step": "s02_blank"},
        "José": {"rnn_step_by_step": "s01_complete", LM: "s01_complete"}})
    out = tmp_path / "out"
    run = grade(submissions, out, "--workers", "2")
    assert run.returncode == 0, run.stderr
    with open(out / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert rows["Jose"]["rnn_step_by_step"] == "0" and rows["Jose"][LM] == ""
    assert rows["Jose-2"]["rnn_step_by_step"] == "24" and rows["Jose-2"][LM] == "15"
    assert results(out / LM, "Jose-2")["score"] == 15


def test_a_flat_class_of_one_assignment_is_graded_alone(tmp_path):
    """<student>/<notebook>.ipynb with a timestamp.txt beside: the first assignment's only; the
    second is not graded (no student has one of its notebooks), and OUT has the layout of one."""
    submissions = tmp_path / "submissions"
    for student in ("s01_complete", "s03_tanh_twice"):
        shutil.copytree(ROOT / "tests" / "fixtures" / "class" / student / "rnn_step_by_step", submissions / student)
    out = tmp_path / "out"
    run = grade(submissions, out, "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert results(out, "s01_complete")["score"] == 24 and results(out, "s03_tanh_twice")["score"] == 22
    assert not (out / LM).exists()


def test_a_course_is_never_graded_into_one_assignments_out(tmp_path):
    """An OUT with one assignment's grading (and its hand grades) is not silently left for a new
    layout: grading both there is refused in one sentence."""
    out = tmp_path / "out"
    assert grade(_two_of_the_class(tmp_path / "class"), out, "--workers", "2").returncode == 0
    submissions = _course_class(tmp_path / "submissions", {"s01": {"rnn_step_by_step": "s01_complete",
                                                                   LM: "s01_complete"}})
    run = grade(submissions, out)
    assert run.returncode == 2 and "holds the grading of one assignment" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    due = grade(submissions, tmp_path / "other", "--due", "2026-12-01")
    assert due.returncode == 2 and "--due and --late-policy are an assignment's" in due.stderr, due.stderr


@pytest.mark.parametrize("breakage, says", [
    ("MISTAKES = MISTAKES + (Mistake('x', 'no_such_function', 'x', 'x', None),)\n", "LookupError"),
    ("def broken(:\n", "SyntaxError"),
])
def test_a_broken_grading_py_is_one_sentence_before_any_student(tmp_path, breakage, says):
    source = tmp_path / "source" / LM
    shutil.copytree(ROOT / "source" / LM, source)
    with open(source / "grading.py", "a") as f:
        f.write(breakage)
    run = grade(LM_FIXTURES, tmp_path / "out", "--source", str(source))
    assert run.returncode == 2 and f"the assignment {LM} cannot be graded: {says}" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out" / "results").exists()


@pytest.mark.parametrize("breakage, says", [
    ('FROM_EARLIER_ASSIGNMENTS = {"rnn_step_by_step": ("rnn_forward", "no_such_function")}\n',
     "exercises.py takes no_such_function from rnn_step_by_step"),
    ("import dataclasses\nEXERCISES['clip_gradients'] = dataclasses.replace(EXERCISES['clip_gradients'], "
     "calls=('no_such_function',))\n", "exercises.py: an exercise calls no_such_function"),
])
def test_an_exercise_calling_what_nothing_declares_is_one_sentence_before_any_student(tmp_path, breakage, says):
    """A function an exercise calls is declared by its own assignment or by an earlier one
    (FROM_EARLIER_ASSIGNMENTS): else the oracles would have nothing to answer it with."""
    source = tmp_path / "source" / LM
    shutil.copytree(ROOT / "source" / LM, source)
    with open(source / "exercises.py", "a") as f:
        f.write(breakage)
    run = grade(LM_FIXTURES, tmp_path / "out", "--source", str(source))
    assert run.returncode == 2 and f"the assignment {LM} cannot be graded: " in run.stderr, run.stderr
    assert f"LookupError: {source}/{says}" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out" / "results").exists()


def test_a_hidden_check_in_a_students_folder_judges_against_the_course(tmp_path, monkeypatch):
    """A student's autograded folder holds the assignment's files (plain nbgrader copies even
    grading.py): a hidden test run there by hand still judges against the course's reference,
    never against the student's own notebooks."""
    from autograder import hidden
    from tests import mistakes as wrong
    folder = tmp_path / "autograded" / "s03_tanh_twice" / "rnn_step_by_step"
    shutil.copytree(ROOT / "tests" / "fixtures" / "class" / "s03_tanh_twice" / "rnn_step_by_step", folder)
    for path in (ROOT / "source" / "rnn_step_by_step").glob("*.py"):
        shutil.copy(path, folder / path.name)
    monkeypatch.chdir(folder)
    student = wrong.tanh_twice(wrong.fresh_reference())
    with pytest.raises(AssertionError, match="Known mistake: tanh applied twice"):
        hidden.check("rnn_cell_backward_values", {"rnn_cell_backward": student})


def test_the_earlier_assignment_is_the_instructors_own_not_the_repositorys(tmp_path):
    """Graded from a course folder of the instructor's (--source), the functions of an earlier
    assignment are that course's: here it is called rnn_basics, which the repository has not. The
    grading course keeps a copy of it (OUT/course/earlier/), which the grading fingerprints."""
    course = tmp_path / "mycourse" / "source"
    shutil.copytree(ROOT / "source" / "rnn_step_by_step", course / "rnn_basics")
    shutil.copytree(ROOT / "source" / LM, course / LM)
    declarations = course / LM / "exercises.py"
    declarations.write_text(declarations.read_text().replace('{"rnn_step_by_step": (', '{"rnn_basics": ('))
    submissions = tmp_path / "submissions"
    shutil.copytree(LM_FIXTURES / "s01_complete", submissions / "s01_complete")
    out = tmp_path / "out"
    run = grade(submissions, out, "--source", str(course / LM), "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert results(out, "s01_complete")["score"] == 15
    assert (out / "course" / "earlier" / "rnn_basics" / "2_rnn_forward.ipynb").is_file()
    assert {a.source for a in reference.of(out / "course" / "source" / LM).earlier.values()} == \
        {(out / "course" / "earlier" / "rnn_basics").resolve()}
