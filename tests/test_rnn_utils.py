"""rnn_utils: the maths the notebooks call, the loader, and the visible tests."""

import numpy as np
import pytest

import rnn_utils
from autograder import reference
from tests import mistakes
from tests.helpers import RNN


def test_softmax_normalises_each_column():
    x = np.array([[1.0, 2.0, -3.0], [2.0, 0.0, 4.0]])
    s = rnn_utils.softmax(x)
    assert s.shape == x.shape and s.dtype == np.float64
    np.testing.assert_allclose(s.sum(axis=0), 1.0)
    np.testing.assert_allclose(s[:, 0], np.exp([1, 2]) / np.exp([1, 2]).sum())


def test_softmax_subtracts_each_columns_own_max():
    # With the global max (1000) subtracted, column 0 would be exp(-1000)/... = 0/0.
    x = np.array([[0.0, 1000.0], [1.0, 999.0]])
    s = rnn_utils.softmax(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[:, 0], rnn_utils.softmax(np.array([[0.0], [1.0]]))[:, 0])
    np.testing.assert_allclose(s.sum(axis=0), 1.0)


def test_softmax_does_not_overflow():
    s = rnn_utils.softmax(np.array([[1e308, -1e308], [0.0, 0.0]]))
    assert np.all(np.isfinite(s))


def test_sigmoid_is_stable_and_right():
    x = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = rnn_utils.sigmoid(x)
    np.testing.assert_allclose(s[1:4], 1 / (1 + np.exp(-x[1:4])))
    assert s[0] == 0.0 and s[-1] == 1.0


def test_initialize_parameters_shapes_and_reproducibility():
    p = rnn_utils.initialize_parameters(n_a=4, n_x=3, n_y=2, seed=5)
    shapes = {k: v.shape for k, v in p.items()}
    assert shapes == {"Wax": (4, 3), "Waa": (4, 4), "Wya": (2, 4), "ba": (4, 1), "by": (2, 1)}
    q = rnn_utils.initialize_parameters(n_a=4, n_x=3, n_y=2, seed=5)
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert not np.array_equal(p["Wax"], rnn_utils.initialize_parameters(4, 3, 2, seed=6)["Wax"])


def test_example_inputs_shapes():
    ex = rnn_utils.example_inputs(seed=2, n_x=3, n_a=4, n_y=2, m=5, T_x=6)
    assert ex["x"].shape == (3, 5, 6) and ex["a0"].shape == (4, 5) and ex["da"].shape == (4, 5, 6)
    assert ex["c0"].shape == ex["dc"].shape == (4, 5)
    shapes = {k: v.shape for k, v in ex["lstm_parameters"].items()}
    assert shapes == {**{f"W{g}": (4, 7) for g in "fico"}, **{f"b{g}": (4, 1) for g in "fico"},
                      "Wy": (2, 4), "by": (2, 1)}


def test_the_lstm_s_examples_leave_the_rnn_s_as_they_were():
    """The LSTM's arrays have generators of their own: the RNN notebooks' printed values did not move."""
    ex = rnn_utils.example_inputs()
    rng = np.random.default_rng(1)
    assert np.array_equal(ex["x"], rng.standard_normal((3, 10, 4)))
    assert np.array_equal(ex["parameters"]["Wax"], rnn_utils.initialize_parameters(5, 3, 2, seed=1001)["Wax"])


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = rnn_utils.numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    assert np.array_equal(x, [[1.0, -2.0], [0.5, 3.0]]), "x must be restored"


def test_numerical_gradient_rejects_what_it_cannot_perturb():
    with pytest.raises(TypeError):
        rnn_utils.numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_relative_error():
    assert rnn_utils.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rnn_utils.relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert rnn_utils.relative_error([2.0], [1.0]) == pytest.approx(0.5)


def test_load_functions_reads_answer_cells_only(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    answer = new_code_cell("def f():\n    return g() + 1\ndef g():\n    return 1")
    answer.metadata["nbgrader"] = {"solution": True}
    other = new_code_cell("def h():\n    return 0\nraise SystemExit('must not run')")
    nbformat.write(new_notebook(cells=[other, answer]), tmp_path / "1_a.ipynb")
    f, = rnn_utils.load_functions("f", folder=tmp_path)
    assert f() == 2
    with pytest.raises(LookupError, match="defines h"):
        rnn_utils.load_functions("h", folder=tmp_path)


def test_rnn_utils_holds_no_answer():
    """The students receive rnn_utils.py: none of the exercises is defined in it."""
    import ast
    tree = ast.parse(open(rnn_utils.__file__).read())
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert not defined & set(RNN.functions)
    assert "tanh" not in open(rnn_utils.__file__).read()


VISIBLE = [
    ("check_rnn_cell_forward_values", "rnn_cell_forward", ()),
    ("check_rnn_forward_values", "rnn_forward", ()),
    ("check_rnn_cell_backward_values", "rnn_cell_backward", ("rnn_cell_forward",)),
    ("check_rnn_backward_values", "rnn_backward", ("rnn_forward",)),
    ("check_lstm_cell_forward_values", "lstm_cell_forward", ()),
    ("check_lstm_forward_values", "lstm_forward", ()),
    ("check_lstm_cell_backward_values", "lstm_cell_backward", ("lstm_cell_forward",)),
    ("check_lstm_backward_values", "lstm_backward", ("lstm_forward",)),
]


@pytest.mark.parametrize("check, function, extra", VISIBLE)
def test_visible_checks_pass_the_reference_and_fail_a_mistake(check, function, extra, monkeypatch, capsys):
    monkeypatch.chdir(RNN.source)
    ref = mistakes.fresh_reference()
    getattr(rnn_utils, check)(ref[function], *[ref[e] for e in extra])
    assert "All value tests passed." in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"Wrong values in .* at index \(.*\) you have .*, expected"):
        getattr(rnn_utils, check)(mistakes.scaled(ref[function]), *[ref[e] for e in extra])


def test_visible_check_says_which_part_to_finish(monkeypatch):
    monkeypatch.chdir(RNN.source)

    def rnn_cell_forward(xt, a_prev, parameters):
        raise NotImplementedError()
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        rnn_utils.check_rnn_cell_forward_shapes(rnn_cell_forward)


def test_visible_backward_check_blames_a_wrong_forward(monkeypatch):
    monkeypatch.chdir(RNN.source)
    ref = mistakes.fresh_reference()
    with pytest.raises(AssertionError, match="fix notebook 1 first"):
        rnn_utils.check_rnn_cell_backward_values(ref["rnn_cell_backward"], mistakes.scaled(ref["rnn_cell_forward"]))


def test_adam_first_step_is_the_learning_rate_times_the_sign():
    parameters = {"W": np.array([[1.0, -2.0], [0.5, 3.0]])}
    before = parameters["W"].copy()
    adam = rnn_utils.Adam(parameters, learning_rate=0.01)
    gradient = np.array([[4.0, -0.001], [0.0, 250.0]])
    adam.step(parameters, {"dW": gradient})
    assert np.allclose(parameters["W"] - before, -0.01 * np.sign(gradient), atol=1e-6)


def test_adam_minimises_a_badly_scaled_quadratic():
    scales = np.array([[1.0], [100.0]])
    parameters = {"x": np.array([[3.0], [-2.0]])}
    adam = rnn_utils.Adam(parameters, learning_rate=0.05)
    for _ in range(2000):
        adam.step(parameters, {"dx": scales * parameters["x"]})
    assert np.all(np.abs(parameters["x"]) < 1e-2)


def test_visible_lstm_checks_read_the_gates_from_the_cache(monkeypatch):
    monkeypatch.chdir(RNN.source)
    right = mistakes.fresh_reference()["lstm_cell_forward"]

    def lstm_cell_forward(xt, a_prev, c_prev, parameters):
        a_next, c_next, yt_pred, cache = right(xt, a_prev, c_prev, parameters)
        return a_next, c_next, yt_pred, cache[:6] + (cache[7], cache[6]) + cache[8:]  # ot before cct
    with pytest.raises(AssertionError, match=r"Wrong values in cct \(in the cache\)"):
        rnn_utils.check_lstm_cell_forward_values(lstm_cell_forward)


def test_visible_lstm_backward_check_blames_a_wrong_forward(monkeypatch):
    monkeypatch.chdir(RNN.source)
    ref = mistakes.fresh_reference()
    with pytest.raises(AssertionError, match="fix exercise 1 of this notebook first"):
        rnn_utils.check_lstm_cell_backward_shapes(ref["lstm_cell_backward"], mistakes.scaled(ref["lstm_cell_forward"]))


def test_what_students_read_is_what_they_call():
    """rnn_utils.py holds the functions the notebooks call; the visible tests' machinery lives in
    rnn_checks.py beside it, reached as rnn_utils.check_... by the test cells."""
    import ast
    tree = ast.parse((reference.ROOT / "rnn_utils.py").read_text())
    public = {node.name for node in tree.body
              if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")}
    assert public == set(rnn_utils.__all__) | {"answer_cells"}
    assert all(callable(getattr(RNN.utils, f"check_{name}_{kind}"))  # with the exercises beside the notebooks
               for name in RNN.exercises for kind in ("shapes", "values"))
    with pytest.raises(AttributeError):
        rnn_utils.no_such_helper


def test_adam_update_is_the_labs_adam_as_data_and_leaves_its_arguments():
    import copy
    same_structure = RNN.checks.same_structure
    rng = np.random.default_rng(0)
    parameters = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal((3, 1))}
    gradients = [{"dW": rng.standard_normal((3, 2)), "db": rng.standard_normal((3, 1))} for _ in range(3)]
    kept = {key: value.copy() for key, value in parameters.items()}
    state, values = rnn_utils.adam_state(parameters), dict(parameters)
    adam = rnn_utils.Adam(kept, learning_rate=0.05)
    for g in gradients:
        given = (values, state)
        copies = copy.deepcopy(given)
        values, new_state = rnn_utils.adam_update(values, g, state, 0.05)
        assert same_structure(given, copies)  # the parameters, m and v it was given, as they were
        assert new_state["t"] == state["t"] + 1 and new_state is not state
        state = new_state
        adam.step(kept, g)
    assert all(np.array_equal(values[key], kept[key]) for key in parameters)


def test_functions_from_a_folder_that_is_not_there(tmp_path, monkeypatch, capsys):
    """Notebook 3 of char_language_model loads the student's rnn_forward from ../rnn_step_by_step:
    where the folder is not, the student is told where it should be; while grading (a notebook
    is submitted alone), stand-ins say so and the tests call the reference versions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(rnn_utils.GRADING_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"calls your rnn_forward, rnn_backward from the folder "
                                                r"\.\./rnn_step_by_step, which is not here"):
        rnn_utils.load_functions("rnn_forward", "rnn_backward", folder="../rnn_step_by_step")
    monkeypatch.setenv(rnn_utils.GRADING_ENV, str(tmp_path))
    forward, backward = rnn_utils.load_functions("rnn_forward", "rnn_backward", folder="../rnn_step_by_step")
    assert "the tests call the reference rnn_forward, rnn_backward" in capsys.readouterr().out
    with pytest.raises(NameError, match="rnn_forward is not loaded"):
        forward(1, 2, 3)
