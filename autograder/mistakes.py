"""The classic mistakes of the series, as wrong versions of the reference functions.

Each `Mistake` names one error a student makes (tanh applied twice, time walked
forwards...), says in one sentence what to do instead, and builds the wrong function
from the reference (never from a copy of an answer): a wrapper that feeds the reference
a tampered argument, or the reference with one of the functions it calls replaced.

A wrong answer is recognised when it behaves like a mistake on every example it is
judged on: the same outputs (within tolerance, NaN equal to NaN) or an error in the
same places. Both sides use the same list: `python -m autograder release` stores each
mistake's outputs on the visible examples in visible_expected.json (rnn_utils then
names the mistake in the notebook, without holding any answer), and the hidden tests
compute them on the hidden inputs after the student's function has returned.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from . import reference

rnn_utils = reference.rnn_utils


@dataclass(frozen=True)
class Mistake:
    id: str
    function: str           # the function whose answer makes it
    name: str               # what the student reads after "Known mistake: " (no full stop)
    hint: str               # what to do instead, one sentence
    make: Callable          # make(namespace of reference functions) -> the wrong `function`
    # Judged on the large-score example too (only softmax's numerical stability shows there;
    # elsewhere a naive softmax is right and any other mistake would differ there for nothing).
    stability: bool = False

    def message(self):
        return f"Known mistake: {self.name}. {self.hint}"


def _wrap_outputs(name, change):
    """The reference `name`, its result passed through change(result, *args)."""
    def make(ns):
        right = ns[name]

        def wrong(*args):
            return change(right(*args), *args)
        wrong.__name__ = name
        return wrong
    return make


def _wrap_inputs(name, change):
    """The reference `name` called on change(*args)."""
    def make(ns):
        right = ns[name]

        def wrong(*args):
            return right(*change(*args))
        wrong.__name__ = name
        return wrong
    return make


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
            weights = {key: 0.0 for key in rnn_utils.OUTPUTS[name][2:]}
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

# Not a different output but a side effect, found by comparing the arguments before and after.
INPUT_MUTATED = Mistake("input_mutated", "*", "an input changed in place",
                        "Build new arrays (x + y, not x += y, which writes into the array the caller passed) "
                        "and leave the arguments as they came.",
                        make=None)

# Which functions call which: a mistake in a callee shows in its callers' outputs.
CALLEES = {name: exercise.calls for name, exercise in rnn_utils.EXERCISES.items()}


def _namespace():
    """A fresh namespace of the reference functions (they call each other through it)."""
    functions = rnn_utils.load_functions(*reference.FUNCTIONS, folder=reference.SOURCE, quiet=True)
    return dict(functions[0].__globals__)


def _rebound(ns, name, function):
    """Copies of the reference functions of `ns`, in a namespace where `name` is `function`."""
    new = dict(ns)
    for key in reference.FUNCTIONS:
        f = ns[key]
        new[key] = type(f)(f.__code__, new, f.__name__, f.__defaults__, f.__closure__)
    new[name] = function
    return new


@lru_cache(maxsize=None)
def candidates(function, callees=True):
    """((mistake, wrong version of `function`), ...): the mistakes made in `function`, then
    (when `callees`: the student's own callees are in use) those made in the functions it calls."""
    ns = _namespace()
    # Its own mistakes first: where one behaves like a callee's (lstm_backward dropping dc_prevt
    # is lstm_cell_backward dropping dc_next), the callee's own test names the callee's.
    found = [(mistake, mistake.make(ns)) for mistake in MISTAKES if mistake.function == function]
    if callees:
        found += [(mistake, _rebound(ns, mistake.function, mistake.make(ns))[function])
                  for mistake in MISTAKES if mistake.function in CALLEES[function]]
    return tuple(found)


def behaviour(call):
    """call()'s result, or None when it raises (a mistake may fail where the student's code does)."""
    try:
        with np.errstate(all="ignore"):
            return call()
    except Exception:
        return None
