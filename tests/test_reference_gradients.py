"""The reference backward pass is proved right by centred finite differences,
on several shapes, never by agreeing with the seed."""

import numpy as np
import pytest

import rnn_utils
from tests import mistakes
from tests.helpers import RNN

SHAPES = [
    dict(seed=3, n_x=3, n_a=5, n_y=2, m=4, T_x=4),
    dict(seed=4, n_x=2, n_a=6, n_y=3, m=1, T_x=3),   # m = 1
    dict(seed=5, n_x=4, n_a=3, n_y=2, m=3, T_x=1),   # T_x = 1
    dict(seed=6, n_x=1, n_a=1, n_y=1, m=1, T_x=1),   # everything 1
]
TOLERANCE = 1e-7


def gradient_errors(functions, case):
    """Relative error of every gradient of rnn_backward against finite differences
    of the loss J = sum(da * a), whose gradient with respect to a is da."""
    ex = rnn_utils.example_inputs(**case)
    x, a0, da, p = ex["x"], ex["a0"], ex["da"], ex["parameters"]

    def loss():
        a, _, _ = functions["rnn_forward"](x, a0, p)
        return float(np.sum(da * a))

    _, _, caches = functions["rnn_forward"](x, a0, p)
    analytic = functions["rnn_backward"](da, caches)
    numeric = {"dx": x, "da0": a0, "dWax": p["Wax"], "dWaa": p["Waa"], "dba": p["ba"]}
    return {key: rnn_utils.relative_error(analytic[key], rnn_utils.numerical_gradient(loss, array))
            for key, array in numeric.items()}


@pytest.mark.parametrize("case", SHAPES, ids=lambda c: "m{m}_T{T_x}_na{n_a}_nx{n_x}".format(**c))
def test_rnn_backward_matches_finite_differences(case):
    errors = gradient_errors(mistakes.fresh_reference(), case)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("case", SHAPES[:3], ids=lambda c: "m{m}_na{n_a}_nx{n_x}".format(**c))
def test_rnn_cell_backward_matches_finite_differences(case):
    ref = RNN.load()
    ex = rnn_utils.example_inputs(**case)
    xt, a_prev, p, da_next = ex["x"][:, :, 0].copy(), ex["a0"], ex["parameters"], ex["da"][:, :, 0]

    def loss():
        return float(np.sum(da_next * ref.rnn_cell_forward(xt, a_prev, p)[0]))

    analytic = ref.rnn_cell_backward(da_next, ref.rnn_cell_forward(xt, a_prev, p)[2])
    for key, array in {"dxt": xt, "da_prev": a_prev, "dWax": p["Wax"], "dWaa": p["Waa"], "dba": p["ba"]}.items():
        error = rnn_utils.relative_error(analytic[key], rnn_utils.numerical_gradient(loss, array))
        assert error < TOLERANCE, (key, error)


def test_the_seeds_tanh_twice_fails_the_same_check():
    functions = mistakes.fresh_reference()
    functions["rnn_forward"].__globals__["rnn_cell_backward"] = mistakes.tanh_twice(mistakes.fresh_reference())
    errors = gradient_errors(functions, SHAPES[0])
    assert min(errors.values()) > 1e-3, errors


def test_the_reference_computes_in_float64():
    ref = RNN.load()
    ex = rnn_utils.example_inputs()
    a, y_pred, caches = ref.rnn_forward(ex["x"], ex["a0"], ex["parameters"])
    gradients = ref.rnn_backward(ex["da"], caches)
    assert a.dtype == y_pred.dtype == np.float64
    assert all(value.dtype == np.float64 for value in gradients.values())


def test_no_tanh_of_the_cached_activation_in_the_source():
    """The seed's derivative 1 - tanh(a_next)**2 appears nowhere in an answer."""
    import nbformat
    code = [cell.source for path in RNN.source.glob("*.ipynb")
            for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    assert code and not any("tanh(a_next" in source.replace(" ", "") for source in code)


LSTM_WEIGHTS = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")


@pytest.mark.parametrize("case", SHAPES, ids=lambda c: "m{m}_T{T_x}_na{n_a}_nx{n_x}".format(**c))
def test_lstm_cell_backward_matches_finite_differences(case):
    """J = sum(da * a_next) + sum(dc * c_next): both upstream gradients are exercised."""
    ref = RNN.load()
    ex = rnn_utils.example_inputs(**case)
    xt, a_prev, c_prev, p = ex["x"][:, :, 0].copy(), ex["a0"], ex["c0"], ex["lstm_parameters"]
    da_next, dc_next = ex["da"][:, :, 0], ex["dc"]

    def loss():
        a_next, c_next, _, _ = ref.lstm_cell_forward(xt, a_prev, c_prev, p)
        return float(np.sum(da_next * a_next) + np.sum(dc_next * c_next))

    analytic = ref.lstm_cell_backward(da_next, dc_next, ref.lstm_cell_forward(xt, a_prev, c_prev, p)[3])
    wrt = {"dxt": xt, "da_prev": a_prev, "dc_prev": c_prev, **{"d" + key: p[key] for key in LSTM_WEIGHTS}}
    for key, array in wrt.items():
        error = rnn_utils.relative_error(analytic[key], rnn_utils.numerical_gradient(loss, array))
        assert error < TOLERANCE, (key, error)


@pytest.mark.parametrize("case", SHAPES, ids=lambda c: "m{m}_T{T_x}_na{n_a}_nx{n_x}".format(**c))
def test_lstm_backward_matches_finite_differences(case):
    ref = RNN.load()
    ex = rnn_utils.example_inputs(**case)
    x, a0, da, p = ex["x"], ex["a0"], ex["da"], ex["lstm_parameters"]

    def loss():
        return float(np.sum(da * ref.lstm_forward(x, a0, p)[0]))

    analytic = ref.lstm_backward(da, ref.lstm_forward(x, a0, p)[3])
    assert set(analytic) == {"dx", "da0"} | {"d" + key for key in LSTM_WEIGHTS}
    for key, array in {"dx": x, "da0": a0, **{"d" + key: p[key] for key in LSTM_WEIGHTS}}.items():
        error = rnn_utils.relative_error(analytic[key], rnn_utils.numerical_gradient(loss, array))
        assert error < TOLERANCE, (key, error)


def test_lstm_backward_counts_time_from_da():
    """lstm_backward takes T_x from da: a da shorter than the caches backpropagates that many steps."""
    ref = RNN.load()
    ex = rnn_utils.example_inputs(T_x=4)
    caches = ref.lstm_forward(ex["x"], ex["a0"], ex["lstm_parameters"])[3]
    assert ref.lstm_backward(ex["da"][:, :, :2], caches)["dx"].shape[2] == 2


@pytest.mark.parametrize("example", ["the example", "an example with m = 1 and T_x = 1"])
def test_the_training_step_moves_each_parameter_against_its_finite_difference_gradient(example):
    """char_language_model's rnn_train_step, from Adam's first state and without clipping: the
    first step of Adam moves every entry by learning_rate * g / (|g| + epsilon), g its gradient;
    g here comes from centred finite differences of the step's loss, not from any backward pass."""
    from autograder import reference
    lm = reference.named("char_language_model")
    ref, checks, rnn = lm.load(), lm.checks, reference.named("rnn_step_by_step").load()
    ex = checks.example_inputs(**checks.EXAMPLES[example])
    x, y, mask, a0, p = ex["x"], ex["y"], ex["mask"], ex["a0"], ex["parameters"]
    learning_rate = 1e-3

    def loss():
        a, _, _ = rnn.rnn_forward(x, a0, p)
        scores = np.einsum("ya,amt->ymt", p["Wya"], a) + p["by"][:, :, np.newaxis]
        return ref.temporal_softmax_loss(scores, y, mask)[0]
    loss_now, _, stepped, adam = ref.rnn_train_step(x, y, mask, a0, p, rnn_utils.adam_state(p), learning_rate, 1e9)
    assert loss_now == pytest.approx(loss()) and adam["t"] == 1
    for key, value in p.items():
        g = rnn_utils.numerical_gradient(loss, value)
        expected = value - learning_rate * g / (np.abs(g) + 1e-8)
        sure = np.abs(g) > 1e-5  # where finite differences give the sign for certain
        assert sure.any() and np.allclose(stepped[key][sure], expected[sure], rtol=1e-4, atol=1e-9), key
