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


def _backward_loop(times, carry):
    """rnn_backward walking the time steps in the order times(T_x), adding the gradient
    carried from the step before in the walk when `carry` (reversed and True is right)."""
    def make(ns):
        cell = ns["rnn_cell_backward"]

        def rnn_backward(da, caches):
            steps, x = caches
            n_a, m, T_x = da.shape
            dx = np.zeros((x.shape[0], m, T_x))
            gradients = {"dWax": 0.0, "dWaa": 0.0, "dba": 0.0}
            carried = np.zeros((n_a, m))
            for t in times(T_x):
                step = cell(da[:, :, t] + carried if carry else da[:, :, t], steps[t])
                dx[:, :, t] = step["dxt"]
                carried = step["da_prev"]
                for key in gradients:
                    gradients[key] = gradients[key] + step[key]
            return {"dx": dx, "da0": carried, **gradients}
        return rnn_backward
    return make


def _forwards(T_x):
    return range(T_x)


MISTAKES = (
    # rnn_cell_forward
    Mistake("yt_from_a_prev", "rnn_cell_forward", "yt_pred computed from a_prev",
            "The prediction uses the new state: yt_pred = softmax(Wya @ a_next + by).",
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
            "By the chain rule, dz = da_next * (1 - a_next**2): multiply the upstream gradient in.",
            _wrap_inputs("rnn_cell_backward", lambda da_next, cache: (np.ones_like(da_next), cache))),
    Mistake("missing_transpose_waa", "rnn_cell_backward", "a missing transpose of Waa",
            "The gradient flows back through Waa transposed: da_prev = Waa.T @ dz.",
            _wrap_inputs("rnn_cell_backward", lambda da_next, cache:
                         (da_next, cache[:3] + (_transposed(cache[3], "Waa"),)))),
    Mistake("missing_transpose_wax", "rnn_cell_backward", "a missing transpose of Wax",
            "The gradient flows back through Wax transposed: dxt = Wax.T @ dz.",
            _wrap_inputs("rnn_cell_backward", lambda da_next, cache:
                         (da_next, cache[:3] + (_transposed(cache[3], "Wax"),)))),
    Mistake("dwax_dwaa_swapped", "rnn_cell_backward", "dWax and dWaa swapped",
            "dWax pairs dz with the input (dz @ xt.T), dWaa with the previous state (dz @ a_prev.T).",
            _with_gradients(lambda g, da_next, cache: {**g, "dWax": g["dWaa"], "dWaa": g["dWax"]})),
    Mistake("bias_without_keepdims", "rnn_cell_backward", "the bias gradient summed without keepdims",
            "dba must keep the shape (n_a, 1) of ba: np.sum(dz, axis=1, keepdims=True).",
            _with_gradients(lambda g, da_next, cache: {**g, "dba": g["dba"].reshape(-1)})),
    Mistake("bias_wrong_axis", "rnn_cell_backward", "the bias gradient summed over the wrong axis",
            "Sum dz over the examples (axis=1), which gives one value per hidden unit.",
            _with_gradients(lambda g, da_next, cache: {**g, "dba": np.sum(_dz(da_next, cache), axis=0,
                                                                          keepdims=True)})),
    # rnn_backward
    Mistake("da_prevt_not_carried", "rnn_backward", "the gradient from the next time step not carried back",
            "At step t the cell's upstream gradient is da[:, :, t] + da_prevt, the da_prev of step t + 1.",
            _backward_loop(lambda T_x: reversed(range(T_x)), carry=False)),
    Mistake("time_forwards", "rnn_backward", "time walked forwards in the backward pass",
            "Backpropagation through time starts at the last step: for t in reversed(range(T_x)).",
            _backward_loop(_forwards, carry=True)),
)

# Not a different output but a side effect, found by comparing the arguments before and after.
INPUT_MUTATED = Mistake("input_mutated", "*", "an input changed in place",
                        "Build new arrays (da[:, :, t] + da_prevt, not +=) and leave the arguments as they came.",
                        make=None)

# Which functions call which: a mistake in a callee shows in its callers' outputs.
CALLEES = {
    "rnn_cell_forward": (),
    "rnn_forward": ("rnn_cell_forward",),
    "rnn_cell_backward": (),
    "rnn_backward": ("rnn_cell_backward",),
}


def _namespace():
    """A fresh namespace of the reference functions (they call each other through it)."""
    functions = rnn_utils.load_functions(*reference.FUNCTIONS, folder=reference.SOURCE)
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
    found = []
    for mistake in MISTAKES:
        if mistake.function == function:
            found.append((mistake, mistake.make(ns)))
        elif callees and mistake.function in CALLEES[function]:
            found.append((mistake, _rebound(ns, mistake.function, mistake.make(ns))[function]))
    return tuple(found)


def behaviour(call):
    """call()'s result, or None when it raises (a mistake may fail where the student's code does)."""
    try:
        with np.errstate(all="ignore"):
            return call()
    except Exception:
        return None
