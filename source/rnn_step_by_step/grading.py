"""What only the grader knows of "RNN step by step": the hidden cases, the words that name one,
and the classic mistakes (autograder/mistakes.py says how a Mistake is made and recognised).

Not released (course.nbgrader_config ignores this file): the mistakes are made from the
reference functions, some of them by lines close to an answer. autograder.reference loads
it with `rnn_utils` (the assignment's) and `checks` (its exercises and visible tests) given.
"""

import numpy as np

from autograder.mistakes import Mistake, rebound as _rebound, wrap_inputs as _wrap_inputs, \
    wrap_outputs as _wrap_outputs
from autograder.sample import drop_cell, duplicate_cell, replace

rnn_utils, checks = globals()["rnn_utils"], globals()["checks"]  # given by autograder.reference

# Shapes students never see: one example, one time step, n_a != n_x, n_y > 2; and scores
# far apart, where a softmax that does not subtract each column's maximum overflows.
HIDDEN_CASES = (
    dict(seed=7, n_x=4, n_a=6, n_y=3, m=1, T_x=1),
    dict(seed=11, n_x=2, n_a=7, n_y=4, m=3, T_x=5),
    dict(seed=13, n_x=5, n_a=3, n_y=2, m=4, T_x=6),
    dict(seed=17, n_x=3, n_a=3, n_y=5, m=2, T_x=3),
    dict(seed=19, n_x=2, n_a=4, n_y=3, m=7, T_x=2, output_scale=1000.0),
)


def describe(case):
    """Words for a hidden case that say its kind, not its contents."""
    words = [f"m = {case['m']}", f"T_x = {case['T_x']}"]
    if case["n_a"] != case["n_x"]:
        words.append("n_a != n_x")
    if case.get("output_scale", 1) > 1:
        words.append("large scores")
    return "a hidden input with " + ", ".join(words)


def _scores(parameters, a):
    return parameters["Wya"] @ a + parameters["by"]


def _with_prediction(prediction):
    """rnn_cell_forward whose yt_pred is prediction(xt, a_prev, parameters, a_next)."""
    return _wrap_outputs("rnn_cell_forward", lambda out, xt, a_prev, parameters:
                         (out[0], prediction(xt, a_prev, parameters, out[0]), out[2]))


def _softmax_rows(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def _softmax_whole(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def _softmax_global_max(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e, axis=0, keepdims=True)


def _softmax_no_max(z):
    e = np.exp(z)
    return e / np.sum(e, axis=0, keepdims=True)


def _swap(parameters, a, b):
    return {**parameters, a: parameters[b], b: parameters[a]}


def _transposed(parameters, key):
    return {**parameters, key: parameters[key].T}


def _dz(da_next, cache):
    return da_next * (1 - cache[0] ** 2)


def _with_gradients(change):
    """rnn_cell_backward whose gradients dict goes through change(gradients, da_next, cache)."""
    return _wrap_outputs("rnn_cell_backward", lambda out, da_next, cache: change(dict(out), da_next, cache))


def _a0_every_step(ns):
    cell = ns["rnn_cell_forward"]

    def rnn_forward(x, a0, parameters):
        steps = [cell(x[:, :, t], a0, parameters) for t in range(x.shape[2])]
        a = np.stack([step[0] for step in steps], axis=2)
        y_pred = np.stack([step[1] for step in steps], axis=2)
        return a, y_pred, ([step[2] for step in steps], x)
    return rnn_forward


def _backward_loop(cell_name, times, carry=True, carry_c=True):
    """rnn_backward or lstm_backward (after `cell_name`) walking the time steps in the order
    times(T_x), adding the gradient carried from the step before in the walk to da when `carry`
    and, for the LSTM, passing that step's dc_prev on when `carry_c` (reversed, True and True
    is right)."""
    lstm = cell_name == "lstm_cell_backward"
    name = cell_name.replace("_cell", "")

    def make(ns):
        cell = ns[cell_name]

        def backward(da, caches):
            steps, x = caches
            n_a, m, T_x = da.shape
            dx = np.zeros((x.shape[0], m, T_x))
            weights = {key: 0.0 for key in checks.OUTPUTS[name][2:]}
            carried, carried_c = np.zeros((n_a, m)), np.zeros((n_a, m))
            for t in times(T_x):
                upstream = (da[:, :, t] + carried if carry else da[:, :, t],)
                if lstm:
                    upstream += (carried_c if carry_c else np.zeros((n_a, m)),)
                step = cell(*upstream, steps[t])
                dx[:, :, t] = step["dxt"]
                carried, carried_c = step["da_prev"], step.get("dc_prev")
                for key in weights:
                    weights[key] = weights[key] + step[key]
            return {"dx": dx, "da0": carried, **weights}
        backward.__name__ = name
        return backward
    return make


def _lstm_concat_swapped(xt, a_prev, c_prev, parameters):
    """The arguments that make the reference compute W @ [xt; a_prev]: each gate's weight
    columns rotated so that its first n_x columns meet xt."""
    n_x = xt.shape[0]
    rotated = {key: np.concatenate((value[:, n_x:], value[:, :n_x]), axis=1) if key in "Wf Wi Wc Wo".split()
               else value for key, value in parameters.items()}
    return xt, a_prev, c_prev, rotated


def _lstm_concat_order(ns):
    right = _wrap_inputs("lstm_cell_forward", _lstm_concat_swapped)(ns)

    def lstm_cell_forward(xt, a_prev, c_prev, parameters):
        a_next, c_next, yt_pred, cache = right(xt, a_prev, c_prev, parameters)
        return a_next, c_next, yt_pred, cache[:-1] + (parameters,)  # the student caches the real weights
    return lstm_cell_forward


def _lstm_a_without_tanh(out, xt, a_prev, c_prev, parameters):
    """lstm_cell_forward's outputs with a_next = ot * c_next."""
    a_next, c_next, _, cache = out
    a_next = cache[7] * c_next
    return a_next, c_next, rnn_utils.softmax(parameters["Wy"] @ a_next + parameters["by"]), (a_next,) + cache[1:]


def _lstm_c_not_carried(ns):
    cell = ns["lstm_cell_forward"]

    def lstm_cell_forward(xt, a_prev, c_prev, parameters):
        return cell(xt, a_prev, np.zeros_like(c_prev), parameters)
    return _rebound(ns, "lstm_cell_forward", lstm_cell_forward)["lstm_forward"]


def _forwards(T_x):
    return range(T_x)


def _backwards(T_x):
    return reversed(range(T_x))


MISTAKES = (
    # rnn_cell_forward
    Mistake("yt_from_a_prev", "rnn_cell_forward", "yt_pred computed from a_prev",
            "The prediction reads the state this step has just computed, a_next, not the one it started from.",
            _with_prediction(lambda xt, a_prev, p, a_next: rnn_utils.softmax(_scores(p, a_prev)))),
    Mistake("softmax_wrong_axis", "rnn_cell_forward", "softmax over the wrong axis",
            "Each column (one example) must sum to 1: normalise over axis 0, the n_y scores of one example.",
            _with_prediction(lambda xt, a_prev, p, a_next: _softmax_rows(_scores(p, a_next)))),
    Mistake("softmax_whole_array", "rnn_cell_forward", "softmax over the whole array",
            "Each column (one example) must sum to 1, not the whole array: sum over axis 0 with keepdims=True.",
            _with_prediction(lambda xt, a_prev, p, a_next: _softmax_whole(_scores(p, a_next)))),
    Mistake("softmax_global_max", "rnn_cell_forward", "softmax with the global max",
            "Subtract each column's own maximum (np.max(z, axis=0, keepdims=True)): with the maximum of the "
            "whole array, a column far below it underflows to 0/0.",
            _with_prediction(lambda xt, a_prev, p, a_next: _softmax_global_max(_scores(p, a_next))),
            stability=True),
    Mistake("softmax_no_max", "rnn_cell_forward", "softmax without subtracting the max",
            "np.exp overflows on large scores: subtract each column's maximum first (or use rnn_utils.softmax).",
            _with_prediction(lambda xt, a_prev, p, a_next: _softmax_no_max(_scores(p, a_next))),
            stability=True),
    Mistake("waa_wax_swapped", "rnn_cell_forward", "Waa and Wax swapped",
            "Waa multiplies the previous state a_prev and Wax multiplies the input xt.",
            _wrap_inputs("rnn_cell_forward", lambda xt, a_prev, p: (xt, a_prev, _swap(p, "Waa", "Wax")))),
    # rnn_forward
    Mistake("a0_every_step", "rnn_forward", "the initial state a0 used at every step",
            "Each step starts from the state the previous step returned; a0 is only the first one.",
            _a0_every_step),
    # rnn_cell_backward
    Mistake("tanh_twice", "rnn_cell_backward", "tanh applied twice",
            "a_next already is tanh(...), so the derivative is 1 - a_next**2, not 1 - np.tanh(a_next)**2.",
            _wrap_inputs("rnn_cell_backward", lambda da_next, cache: (da_next, (np.tanh(cache[0]),) + cache[1:]))),
    Mistake("da_next_forgotten", "rnn_cell_backward", "the da_next factor forgotten",
            "By the chain rule, dz is the gradient arriving from above, da_next, times the derivative of tanh.",
            _wrap_inputs("rnn_cell_backward", lambda da_next, cache: (np.ones_like(da_next), cache))),
    Mistake("missing_transpose_waa", "rnn_cell_backward", "a missing transpose of Waa",
            "a_prev reaches z through a product with Waa, so its gradient comes back through Waa transposed.",
            _wrap_inputs("rnn_cell_backward", lambda da_next, cache:
                         (da_next, cache[:3] + (_transposed(cache[3], "Waa"),)))),
    Mistake("missing_transpose_wax", "rnn_cell_backward", "a missing transpose of Wax",
            "xt reaches z through a product with Wax, so its gradient comes back through Wax transposed.",
            _wrap_inputs("rnn_cell_backward", lambda da_next, cache:
                         (da_next, cache[:3] + (_transposed(cache[3], "Wax"),)))),
    Mistake("dwax_dwaa_swapped", "rnn_cell_backward", "dWax and dWaa swapped",
            "A weight's gradient pairs dz with what that weight multiplies: dWax with the input xt, dWaa with the "
            "previous state a_prev.",
            _with_gradients(lambda g, da_next, cache: {**g, "dWax": g["dWaa"], "dWaa": g["dWax"]})),
    Mistake("bias_without_keepdims", "rnn_cell_backward", "the bias gradient summed without keepdims",
            "dba must keep the shape (n_a, 1) of ba: sum over the examples with keepdims=True.",
            _with_gradients(lambda g, da_next, cache: {**g, "dba": g["dba"].reshape(-1)})),
    Mistake("bias_wrong_axis", "rnn_cell_backward", "the bias gradient summed over the wrong axis",
            "Sum dz over the examples (axis=1), which gives one value per hidden unit.",
            _with_gradients(lambda g, da_next, cache: {**g, "dba": np.sum(_dz(da_next, cache), axis=0,
                                                                          keepdims=True)})),
    # rnn_backward
    Mistake("da_prevt_not_carried", "rnn_backward", "the gradient from the next time step not carried back",
            "At step t the cell's upstream gradient is da[:, :, t] + da_prevt, the da_prev of step t + 1.",
            _backward_loop("rnn_cell_backward", _backwards, carry=False)),
    Mistake("time_forwards", "rnn_backward", "time walked forwards in the backward pass",
            "Backpropagation through time starts at the last step and walks back: step t needs the gradient "
            "that step t + 1 sends back.",
            _backward_loop("rnn_cell_backward", _forwards)),
    # lstm_cell_forward
    Mistake("lstm_concat_order", "lstm_cell_forward", "the input stacked above the hidden state",
            "The gates read [a_prev; xt], a_prev on top: np.concatenate((a_prev, xt), axis=0), the order the "
            "columns of Wf, Wi, Wc and Wo follow.",
            _lstm_concat_order),
    Mistake("lstm_a_without_tanh", "lstm_cell_forward", "the tanh of the memory cell forgotten in a_next",
            "The hidden state is a squashed view of the memory: the output gate times tanh of the memory, not the "
            "memory itself.",
            _wrap_outputs("lstm_cell_forward", _lstm_a_without_tanh)),
    # lstm_forward
    Mistake("lstm_c_not_carried", "lstm_forward", "the memory cell not carried from step to step",
            "Pass each step the c_next the previous step returned; only the first step starts from zeros.",
            _lstm_c_not_carried),
    # lstm_cell_backward
    Mistake("lstm_dc_next_forgotten", "lstm_cell_backward", "dc_next left out of the memory's gradient",
            "The memory cell reaches the loss by two roads, the next step (dc_next) and a_next: its gradient adds "
            "both.",
            _wrap_inputs("lstm_cell_backward", lambda da_next, dc_next, cache:
                         (da_next, np.zeros_like(dc_next), cache))),
    # With dc_next raised by da_next * ot * tanh(c_next)**2, the reference's dc is dc_next + da_next * ot.
    Mistake("lstm_tanh_derivative_forgotten", "lstm_cell_backward",
            "the derivative of tanh(c_next) forgotten in the memory's gradient",
            "The road through a_next passes through tanh, so it carries the derivative of tanh at c_next too.",
            _wrap_inputs("lstm_cell_backward", lambda da_next, dc_next, cache:
                         (da_next, dc_next + da_next * cache[7] * np.tanh(cache[1]) ** 2, cache))),
    Mistake("lstm_dc_prev_without_ft", "lstm_cell_backward", "dc_prev without the forget gate",
            "c_prev enters the memory scaled by the forget gate, so its gradient is dc scaled by the forget gate too.",
            _wrap_outputs("lstm_cell_backward", lambda g, da_next, dc_next, cache:
                          {**g, "dc_prev": g["dc_prev"] / cache[4]})),
    # lstm_backward
    Mistake("lstm_da_prevt_not_carried", "lstm_backward",
            "the hidden state's gradient from the next step not carried back",
            "At step t the cell's da_next is da[:, :, t] + da_prevt, the da_prev of step t + 1.",
            _backward_loop("lstm_cell_backward", _backwards, carry=False)),
    Mistake("lstm_dc_prevt_not_carried", "lstm_backward", "the memory's gradient from the next step not carried back",
            "At step t the cell's dc_next is dc_prevt, the dc_prev of step t + 1 (zeros only at the last step).",
            _backward_loop("lstm_cell_backward", _backwards, carry_c=False)),
    Mistake("lstm_time_forwards", "lstm_backward", "time walked forwards in the backward pass",
            "Backpropagation through time starts at the last step and walks back: step t needs the gradients "
            "that step t + 1 sends back.",
            _backward_loop("lstm_cell_backward", _forwards)),
)


NB1, NB2, NB3, NB4 = "1_rnn_cell_forward", "2_rnn_forward", "3_rnn_backward", "4_lstm"

# The sample class (autograder/sample.py, `make demo`, tests/fixtures/class): each student is the
# answered release with one edit; name -> (its exact score, out of 24, edit(notebooks: {name:
# NotebookNode or bytes or None})). Ids are s01_complete, s02_blank, ... in this order.
SAMPLE_STUDENTS = {
    "complete": (24, lambda nbs: None),
    "blank": (0, lambda nbs: nbs.update(blank=True)),
    "tanh_twice": (22, lambda nbs: replace(nbs[NB3], "rnn_cell_backward", "(1 - a_next ** 2)",
                                            "(1 - np.tanh(a_next) ** 2)")),
    "yt_from_a_prev": (22, lambda nbs: replace(nbs[NB1], "rnn_cell_forward", "softmax(Wya @ a_next + by)",
                                                "softmax(Wya @ a_prev + by)")),
    "a0_every_step": (22, lambda nbs: replace(nbs[NB2], "rnn_forward", "x[:, :, t], a_next, parameters",
                                               "x[:, :, t], a0, parameters")),
    "time_forwards": (22, lambda nbs: replace(nbs[NB3], "rnn_backward", "reversed(range(T_x))", "range(T_x)")),
    "float32": (24, lambda nbs: replace(nbs[NB1], "rnn_cell_forward", "a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)",
                                         "a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba, dtype='float32')")),
    # A right answer whose code triggers a numpy RuntimeWarning: nbgrader alone zeroes the test
    # cell that prints it (1 point); we keep its points.
    "numpy_warning": (24, lambda nbs: replace(nbs[NB1], "rnn_cell_forward", "    cache = (a_next",
                                               "    np.exp(np.float64(1000.0))  # overflows: a RuntimeWarning\n"
                                               "    cache = (a_next")),
    "invalid_json": (21, lambda nbs: nbs.update({NB2: b'{"cells": [ this is not json'})),
    "missing_notebook": (18, lambda nbs: nbs.update({NB3: None})),
    # The browser's duplicate suffix, as a student's second download names the file: still notebook 1.
    "renamed_notebook": (24, lambda nbs: nbs.update({NB1: None, f"{NB1} (1)": nbs[NB1]})),
    # A deleted test cell is put back and run (RestoreMissingCells): deleting a test gains nothing
    # and, for code that passes it, loses nothing.
    "deleted_test_cell": (24, lambda nbs: drop_cell(nbs[NB2], "rnn_forward_values")),
    "duplicated_answer_cell": (24, lambda nbs: duplicate_cell(nbs[NB1], "rnn_cell_forward")),
    "infinite_loop": (21, lambda nbs: replace(nbs[NB2], "rnn_forward", "    caches = (caches, x)",
                                              "    while True:\n        pass\n    caches = (caches, x)")),
    # The kernel dies in rnn_cell_backward's tests: those score 0, rnn_backward keeps its points.
    "dead_kernel": (21, lambda nbs: replace(nbs[NB3], "rnn_cell_backward", "    gradients = {",
                                            "    import os; os._exit(1)\n    gradients = {")),
    "lstm_dc_next_forgotten": (22, lambda nbs: replace(nbs[NB4], "lstm_cell_backward", "dc = dc_next + da_next",
                                                        "dc = da_next")),
}
