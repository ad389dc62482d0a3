"""Feedback that never misleads (issue 16): a wrong cache loses its points and says which step
is wrong, an error is reported as the error (never as a known mistake), and a failing visible
test shows its message in a few lines."""

import os
import re

import pytest

from autograder import hidden, reference
from tests.mistakes import student, visible
from tests.helpers import RNN

rnn_utils = RNN.utils


@pytest.fixture(autouse=True)
def beside_the_notebooks(monkeypatch):
    """Visible tests read visible_expected.json from the working folder, as in a notebook."""
    monkeypatch.chdir(RNN.source)


WRONG_CACHES = [
    ("lstm_c_view", "lstm_forward", r"caches\[0\]\[0\] \(the cache of step 0\) holds a wrong c_prev.* "
                                    r"It holds step 0's c_next: the cache kept a view"),
    ("a0_cached_every_step", "rnn_forward", r"caches\[0\]\[1\] \(the cache of step 1\) holds a wrong a_prev.* "
                                            r"It holds step 0's a_prev: each step's cache must keep"),
    ("last_cache_only", "rnn_forward", r"caches\[0\] must be a list of the caches of rnn_cell_forward, "
                                       r"one per time step \(\d\).*; it is one step's cache"),
]


@pytest.mark.parametrize("wrong, function, message", WRONG_CACHES)
def test_a_wrong_cache_fails_the_visible_values_test(wrong, function, message, capsys):
    with pytest.raises(AssertionError, match=message):
        visible("values", function, student(wrong))


@pytest.mark.parametrize("wrong, function, message", WRONG_CACHES)
def test_a_wrong_cache_loses_the_hidden_values_points(wrong, function, message):
    with pytest.raises(AssertionError, match=message) as failure:
        hidden.check(f"{function}_values", student(wrong))
    assert "for a hidden input" in str(failure.value)
    assert not re.search(r"-?\d+\.\d+", str(failure.value)), "a hidden test's message reveals no number"


@pytest.mark.parametrize("function", ["rnn_forward", "lstm_forward"])
def test_right_caches_pass(function, capsys):
    namespace = student()
    visible("values", function, namespace)
    hidden.check(f"{function}_values", namespace)


def test_the_backward_test_blames_a_wrong_cache_on_the_forward_pass():
    with pytest.raises(AssertionError, match=r"holds a wrong c_prev.* Fix exercises 1 and 2 of this notebook first"):
        visible("values", "lstm_backward", student("lstm_c_view"))


def test_an_error_is_reported_as_the_error_never_as_a_known_mistake():
    """rnn_backward with a typo raises on every example; so does a known mistake (the bias
    summed without keepdims): the test used to name that mistake."""
    with pytest.raises(KeyError) as failure:
        visible("values", "rnn_backward", student("typo_dwax"))
    assert not isinstance(failure.value, rnn_utils.TestFailure)
    assert 'step["dwax"]' in rnn_utils.student_line(failure.value)
    with pytest.raises(AssertionError) as failure:
        hidden.check("rnn_backward_values", student("typo_dwax"))
    assert re.fullmatch(r"rnn_backward raised KeyError on every hidden input: 'dwax' "
                        r"\(line \d+: dWax \+= step\[\"dwax\"\]\)\.", str(failure.value)), failure.value


def test_an_error_on_some_inputs_names_the_input_and_the_error():
    with pytest.raises(AssertionError) as failure:
        hidden.check("rnn_forward_values", student("squeeze"))
    assert re.fullmatch(r"rnn_forward raised ValueError for a hidden input with m = 1, T_x = 1, n_a != n_x: "
                        r"could not broadcast input array from shape \(3,\) into shape \(3,1\) "
                        r"\(line \d+: y_pred\[:, :, t\] = yt_pred.squeeze\(\)\)\.", str(failure.value)), failure.value


def test_the_student_text_in_a_hidden_message_is_one_short_line_without_values():
    text = hidden.student_text("x = [0.12345 -1.5e-3 2. 1e-05 1.5E+3 .5]\nsecond line" + "y" * 500)
    assert "\n" not in text and len(text) <= 120
    assert not re.search(r"\d\.|\.\d|\d[eE]", text), text
    assert hidden.student_text("shapes (3,) and (3,1)") == "shapes (3,) and (3,1)", "integers stay: shapes, lines"
    assert hidden.student_text(["not", "text"]) == ""


def test_the_visible_examples_catch_what_breaks_with_one_example_or_one_step():
    """y_pred[:, :, t] = yt_pred.squeeze() passed every visible test and lost 3 points hidden."""
    cases = rnn_utils.EXAMPLES.values()
    assert any(c.get("m") == 1 and c.get("T_x") == 1 and c.get("n_a") != c.get("n_x") for c in cases)
    hidden_inputs = [{k: v for k, v in c.items() if k != "seed"} for c in RNN.hidden_cases]
    assert not any({k: v for k, v in c.items() if k != "seed"} in hidden_inputs for c in cases)
    with pytest.raises(AssertionError, match=r"could not broadcast .*\(line \d+: y_pred\[:, :, t\] = yt_pred.squeeze\(\)\)"):
        visible("values", "rnn_forward", student("squeeze"))


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_in_a_kernel(tmp_path, *cells):
    """Execute `cells` in a real IPython kernel beside a copy of the release's support files;
    returns the text of each cell's error output as the student sees it ('' if none)."""
    import shutil

    import nbformat
    from nbclient import NotebookClient
    for name in ("rnn_utils.py", "rnn_checks.py", "rnn_relations.py", "exercises.py", "visible_expected.json"):
        shutil.copy(reference.ROOT / "release" / RNN.name / name, tmp_path / name)
    cells = ("import rnn_utils\nassert rnn_utils.__file__.startswith(" + repr(str(tmp_path)) + "), rnn_utils.__file__",
             *cells)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    # As a student's kernel: no PYTHONPATH to the repository (conftest.py sets one for nbval's
    # kernels), so rnn_utils is the copy beside the notebook; autograder comes from the install.
    saved = os.environ.pop("PYTHONPATH", None)
    try:
        NotebookClient(nb, timeout=60, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        if saved is not None:
            os.environ["PYTHONPATH"] = saved
    errors = ["\n".join(ANSI.sub("", line) for output in cell.outputs if output.output_type == "error"
                        for line in output.traceback) for cell in nb.cells]
    assert errors[0] == "", f"the kernel must use the release's copy in {tmp_path}: {errors[0]}"
    return errors[1:]


def test_a_failing_visible_test_shows_its_message_in_a_few_lines_and_an_error_shows_the_students_line(tmp_path):
    wrong_cell = RNN.sources(["rnn_cell_forward"])["rnn_cell_forward"].replace(
        "softmax(Wya @ a_next + by)", "softmax(Wya @ a_prev + by)")
    wrong_backward = RNN.sources(["rnn_backward"])["rnn_backward"].replace(
        'dWax += step["dWax"]', 'dWax += step["dwax"]')
    right = RNN.sources(["rnn_forward", "rnn_cell_backward"])
    errors = run_in_a_kernel(
        tmp_path, "import numpy as np\nimport rnn_utils\nfrom rnn_utils import softmax", wrong_cell,
        "rnn_utils.check_rnn_cell_forward_values(rnn_cell_forward)",
        right["rnn_forward"], right["rnn_cell_backward"], wrong_backward,
        "rnn_utils.check_rnn_backward_values(rnn_backward, rnn_forward)")
    failed = errors[2]
    mistake = next(m for m in rnn_utils._data()["rnn_cell_forward"]["mistakes"] if m["id"] == "yt_from_a_prev")
    assert re.fullmatch(r"AssertionError: Wrong values in yt_pred: at index \(\d+, \d+\) you have -?\d\.\d{6}, "
                        r"expected -?\d\.\d{6}\. Known mistake: " + re.escape(f"{mistake['name']}. {mistake['hint']}"),
                        " ".join(failed.splitlines())), failed
    # Short, and in lines nbgrader's Validate dialog shows whole (it cuts lines at 87 characters).
    assert len(failed.splitlines()) < 8 and max(map(len, failed.splitlines())) <= 80, failed
    error = errors[-1]
    assert 'dWax += step["dwax"]' in error and "KeyError: 'dwax'" in error, error
    assert "Known mistake" not in error and "rnn_utils.py" not in error, error
    assert "skipping hidden" in error


def test_a_syntax_error_in_the_answer_cell_is_found_in_the_cells_the_kernel_ran(tmp_path):
    errors = run_in_a_kernel(
        tmp_path, "def rnn_forward(x, a0, parameters):\n    a = np.zeros((2, 3)\n    return a",
        "from autograder.probe import _syntax_error\nreply = _syntax_error('rnn_forward', globals())\n"
        "assert reply['error'] == 'missing' and reply['syntax_error'] and "
        "reply['line'].startswith('line 2: a = np.zeros'), reply\n"
        "get_ipython().run_cell('%matplotlib inline\\ndef rnn_backward(da, caches):\\n    return 1\\n')\n"
        "assert _syntax_error('rnn_backward', globals()) is None, 'a magic is not a SyntaxError'")
    assert "SyntaxError" in errors[0] and errors[1] == ""


UNNAMED = [
    ("dwax_transposed", "rnn_cell_backward", r'gradients\["dWax"\] is transposed', r"dWax is transposed"),
    ("lstm_nothing_carried", "lstm_backward", r'gradients\["dx"\] is right at the last time step only',
     r"dx is right at the last time step only"),
    ("lstm_forget_sigmoid_twice", "lstm_cell_forward", r"ft \(in the cache\) is sigmoid of the expected values",
     r"ft is sigmoid of the expected values"),
]


@pytest.mark.parametrize("wrong, function, seen, hidden_seen", UNNAMED)
def test_a_mistake_without_a_name_is_described_by_its_relation_to_the_right_outputs(
        wrong, function, seen, hidden_seen, capsys):
    with pytest.raises(AssertionError, match=seen) as failure:
        visible("values", function, student(wrong))
    assert "Known mistake" not in str(failure.value)
    with pytest.raises(AssertionError, match=hidden_seen) as failure:
        hidden.check(f"{function}_values", student(wrong))
    assert "Known mistake" not in str(failure.value)


@pytest.fixture
def notebook_folder(tmp_path):
    """A student's folder: the release's support files, no notebook yet."""
    import shutil
    for name in ("rnn_utils.py", "rnn_relations.py", "visible_expected.json"):
        shutil.copy(reference.ROOT / "release" / RNN.name / name, tmp_path / name)
    return tmp_path


def answered(name="1_rnn_cell_forward.ipynb"):
    return (RNN.source / name).read_text()


def stub(name="1_rnn_cell_forward.ipynb"):
    return (reference.ROOT / "release" / RNN.name / name).read_text()


def test_loading_says_where_each_function_came_from(notebook_folder, capsys):
    (notebook_folder / "1_rnn_cell_forward.ipynb").write_text(answered())
    rnn_utils.load_functions("rnn_cell_forward", folder=notebook_folder)
    assert capsys.readouterr().out == "rnn_cell_forward: from 1_rnn_cell_forward.ipynb\n"


def test_loading_the_unsaved_stub_says_to_save_notebook_1(notebook_folder, capsys):
    (notebook_folder / "1_rnn_cell_forward.ipynb").write_text(stub())
    rnn_utils.load_functions("rnn_cell_forward", folder=notebook_folder)
    assert "It is still the released stub: write it in 1_rnn_cell_forward.ipynb, save that notebook" \
        in capsys.readouterr().out


def test_a_jupyterlab_copy_does_not_shadow_the_answered_notebook(notebook_folder, capsys):
    """1_rnn_cell_forward-Copy1.ipynb sorts before 1_rnn_cell_forward.ipynb."""
    (notebook_folder / "1_rnn_cell_forward.ipynb").write_text(answered())
    (notebook_folder / "1_rnn_cell_forward-Copy1.ipynb").write_text(stub())
    cell, = rnn_utils.load_functions("rnn_cell_forward", folder=notebook_folder)
    out = capsys.readouterr().out
    assert out.startswith("rnn_cell_forward: from 1_rnn_cell_forward.ipynb\n"
                          "  also defined in 1_rnn_cell_forward-Copy1.ipynb: that definition is not used."), out
    ex = rnn_utils.example_inputs()
    cell(ex["x"][:, :, 0], ex["a0"], ex["parameters"])  # the answer, not the stub


def test_a_renamed_notebook_works_and_says_to_rename_it_back(notebook_folder, capsys):
    (notebook_folder / "my notebook 1.ipynb").write_text(answered())
    rnn_utils.load_functions("rnn_cell_forward", folder=notebook_folder)
    assert "The series calls this notebook 1_rnn_cell_forward.ipynb, and 1_rnn_cell_forward.ipynb is missing: " \
           "rename my notebook 1.ipynb back to 1_rnn_cell_forward.ipynb before you submit." in capsys.readouterr().out


def test_a_cache_of_float32_copies_of_the_inputs_passes(capsys):
    """It said "cache must be the tuple (...), in that order" although the order was right."""
    namespace = student("float32_inputs")
    visible("shapes", "rnn_cell_forward", namespace)
    visible("values", "rnn_cell_forward", namespace)
    hidden.check("rnn_cell_forward_values", namespace)


def test_a_loop_one_step_short_is_told_what_was_found(capsys):
    with pytest.raises(AssertionError, match=r"one per time step \(4\); it is a list of 3\."):
        visible("shapes", "rnn_forward", student("one_step_short"))


@pytest.mark.parametrize("wrong, function", [("star_for_matmul", "rnn_cell_forward"), ("dz_at_xt", "rnn_cell_backward")])
def test_a_shape_error_says_the_line_and_what_star_and_at_do(wrong, function, capsys):
    """Waa * a_prev and dz @ xt gave numpy's bare errors."""
    with pytest.raises(AssertionError) as failure:
        visible("values", function, student(wrong))
    message = str(failure.value)
    assert re.match(rf"{function} raised ValueError: .* \(line \d+: .*\)\. ", message), message
    assert rnn_utils.SHAPES_HINT in message or "Known mistake" in message


def test_the_sequence_test_blames_a_wrong_cell_from_notebook_1(capsys):
    """A wrong cell without a name made notebook 2 say only "wrong values in a"."""
    namespace = student("lstm_forget_sigmoid_twice")
    with pytest.raises(AssertionError, match=r"lstm_forward calls your lstm_cell_forward \(from exercise 1 of this "
                                             r"notebook\), which fails its own tests: fix exercise 1"):
        visible("values", "lstm_forward", namespace)


def test_gradient_check_warns_that_a_wrong_forward_pass_makes_the_backward_pass_look_wrong(capsys):
    namespace = student("lstm_forget_sigmoid_twice")
    rnn_utils.gradient_check(namespace["lstm_cell_forward"], namespace["lstm_cell_backward"])
    assert "Warning: your lstm_cell_forward fails its values test" in capsys.readouterr().out
    namespace = student()
    rnn_utils.gradient_check(namespace["lstm_cell_forward"], namespace["lstm_cell_backward"])
    assert "Warning" not in capsys.readouterr().out


def test_the_in_place_hint_names_no_variable_of_another_notebook():
    assert "da_prevt" not in rnn_utils._data()["input_mutated"]["hint"]


def test_nbgrader_validate_shows_the_whole_message_with_its_hint(tmp_path):
    """The Validate button (nbgrader validate) cut the message at 87 characters, before the hint."""
    import shutil
    import subprocess
    import sys

    from autograder import sample
    for name in ("rnn_utils.py", "rnn_checks.py", "rnn_relations.py", "exercises.py", "visible_expected.json"):
        shutil.copy(reference.ROOT / "release" / RNN.name / name, tmp_path / name)
    (tmp_path / "1_rnn_cell_forward.ipynb").write_bytes(sample.student_notebooks(RNN, "yt_from_a_prev")["1_rnn_cell_forward"])
    run = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "1_rnn_cell_forward.ipynb"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    shown = " ".join(line.strip() for line in run.stdout.splitlines())
    mistake = next(m for m in rnn_utils._data()["rnn_cell_forward"]["mistakes"] if m["id"] == "yt_from_a_prev")
    assert f"Known mistake: {mistake['name']}. {mistake['hint']}" in shown, run.stdout
    assert "..." not in run.stdout.split("The error was:")[1], run.stdout


def test_the_series_notebook_wins_over_one_that_sorts_before_it(notebook_folder, capsys):
    """'1_rnn_cell_forward backup.ipynb' sorts first (a space before '.'): it was used, and the
    note said to rename it over the answered notebook."""
    (notebook_folder / "1_rnn_cell_forward.ipynb").write_text(answered())
    (notebook_folder / "1_rnn_cell_forward backup.ipynb").write_text(stub())
    rnn_utils.load_functions("rnn_cell_forward", folder=notebook_folder)
    out = capsys.readouterr().out
    assert out.startswith("rnn_cell_forward: from 1_rnn_cell_forward.ipynb\n"), out
    assert "rename" not in out and "stub" not in out
