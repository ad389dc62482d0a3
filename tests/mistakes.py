"""Known-wrong variants of the reference answers, built by wrapping the reference
(never by copying it), so that tests can show a check fails on real mistakes."""

import numpy as np

from autograder import reference

rnn_utils = reference.rnn_utils


def fresh_reference():
    """Reference functions in a namespace of their own, safe to rewire."""
    functions = rnn_utils.load_functions(*reference.FUNCTIONS, folder=reference.SOURCE)
    return dict(zip(reference.FUNCTIONS, functions))


def tanh_twice(ref):
    """The seed's rnn_cell_backward: 1 - tanh(a_next)**2 where a_next already is the tanh.

    The reference uses a_next only in dz = da_next * (1 - a_next**2), so handing it
    tanh(a_next) reproduces the seed's dz exactly and changes nothing else."""
    def rnn_cell_backward(da_next, cache):
        return ref["rnn_cell_backward"](da_next, (np.tanh(cache[0]),) + tuple(cache[1:]))
    return rnn_cell_backward


def float32_cell_forward(ref):
    """The seed's rnn_cell_forward, which forces float32: right within float32 precision."""
    def rnn_cell_forward(xt, a_prev, parameters):
        a_next, yt_pred, _ = ref["rnn_cell_forward"](xt, a_prev, parameters)
        a_next, yt_pred = a_next.astype(np.float32), yt_pred.astype(np.float32)
        return a_next, yt_pred, (a_next, a_prev, xt, parameters)
    return rnn_cell_forward


def scaled(function, factor=1.1):
    """Every returned array multiplied by `factor` (a generic wrong answer)."""
    def wrong(*args):
        result = function(*args)
        if isinstance(result, dict):
            return {key: value * factor for key, value in result.items()}
        return tuple(value * factor if isinstance(value, np.ndarray) else value for value in result)
    wrong.__name__ = function.__name__
    return wrong


def mutating_cell_forward(ref):
    """Right outputs, but zeroes its a_prev argument in place."""
    def rnn_cell_forward(xt, a_prev, parameters):
        result = ref["rnn_cell_forward"](xt, a_prev.copy(), parameters)
        a_prev[...] = 0
        return result[0], result[1], (result[0], a_prev, xt, parameters)
    return rnn_cell_forward
