"""Known-wrong variants of the reference answers, built by wrapping the reference
(never by copying it), so that tests can show a check fails on real mistakes."""

import linecache

import numpy as np

from autograder import reference

RNN = reference.named("rnn_step_by_step")
rnn_utils = RNN.utils


def fresh_reference():
    """Reference functions in a namespace of their own, safe to rewire."""
    functions = rnn_utils.load_functions(*RNN.functions, folder=RNN.source, quiet=True)
    return dict(zip(RNN.functions, functions))


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


# How a student makes each known mistake (autograder/mistakes.py): edits of the reference
# answer cell, (function, (old, new), ...). They are written the way students write them,
# not from the grader's models of the mistakes, so a test that the checks name them shows
# the models recognise real code. Each `old` must be in the solution: a changed solution
# fails here loudly instead of making the edit a no-op.
SCORES = "Wya @ a_next + by"
STUDENT_EDITS = {
    "yt_from_a_prev": ("rnn_cell_forward", (f"softmax({SCORES})", "softmax(Wya @ a_prev + by)")),
    "softmax_wrong_axis": ("rnn_cell_forward", (f"softmax({SCORES})",
                                                f"np.exp({SCORES}) / np.sum(np.exp({SCORES}), axis=1, keepdims=True)")),
    "softmax_whole_array": ("rnn_cell_forward", (f"softmax({SCORES})", f"np.exp({SCORES}) / np.sum(np.exp({SCORES}))")),
    "softmax_global_max": ("rnn_cell_forward", (f"softmax({SCORES})",
                                                f"np.exp({SCORES} - np.max({SCORES})) / "
                                                f"np.sum(np.exp({SCORES} - np.max({SCORES})), axis=0)")),
    "softmax_no_max": ("rnn_cell_forward", (f"softmax({SCORES})",
                                            f"np.exp({SCORES}) / np.sum(np.exp({SCORES}), axis=0, keepdims=True)")),
    "waa_wax_swapped": ("rnn_cell_forward", ("Waa @ a_prev + Wax @ xt", "Waa @ xt + Wax @ a_prev")),
    "a0_every_step": ("rnn_forward", ("x[:, :, t], a_next, parameters", "x[:, :, t], a0, parameters")),
    "tanh_twice": ("rnn_cell_backward", ("(1 - a_next ** 2)", "(1 - np.tanh(a_next) ** 2)")),
    "da_next_forgotten": ("rnn_cell_backward", ("dz = da_next * (1 - a_next ** 2)", "dz = 1 - a_next ** 2")),
    "missing_transpose_waa": ("rnn_cell_backward", ("da_prev = Waa.T @ dz", "da_prev = Waa @ dz")),
    "missing_transpose_wax": ("rnn_cell_backward", ("dxt = Wax.T @ dz", "dxt = Wax @ dz")),
    "dwax_dwaa_swapped": ("rnn_cell_backward", ("dWax = dz @ xt.T", "dWax = dz @ a_prev.T"),
                          ("dWaa = dz @ a_prev.T", "dWaa = dz @ xt.T")),
    "bias_without_keepdims": ("rnn_cell_backward", ("np.sum(dz, axis=1, keepdims=True)", "np.sum(dz, axis=1)")),
    "bias_wrong_axis": ("rnn_cell_backward", ("np.sum(dz, axis=1, keepdims=True)", "np.sum(dz, axis=0, keepdims=True)")),
    "da_prevt_not_carried": ("rnn_backward", ("da[:, :, t] + da_prevt", "da[:, :, t]")),
    "time_forwards": ("rnn_backward", ("reversed(range(T_x))", "range(T_x)")),
    "lstm_concat_order": ("lstm_cell_forward", ("np.concatenate((a_prev, xt), axis=0)",
                                                "np.concatenate((xt, a_prev), axis=0)")),
    "lstm_a_without_tanh": ("lstm_cell_forward", ("a_next = ot * np.tanh(c_next)", "a_next = ot * c_next")),
    "lstm_c_not_carried": ("lstm_forward", ("x[:, :, t], a_next, c_next, parameters",
                                            "x[:, :, t], a_next, np.zeros((n_a, m)), parameters")),
    "lstm_dc_next_forgotten": ("lstm_cell_backward", ("dc = dc_next + da_next", "dc = da_next")),
    "lstm_tanh_derivative_forgotten": ("lstm_cell_backward", ("dc = dc_next + da_next * ot * (1 - tanh_c ** 2)",
                                                              "dc = dc_next + da_next * ot")),
    "lstm_dc_prev_without_ft": ("lstm_cell_backward", ("dc_prev = dc * ft", "dc_prev = dc")),
    "lstm_da_prevt_not_carried": ("lstm_backward", ("da[:, :, t] + da_prevt", "da[:, :, t]")),
    "lstm_dc_prevt_not_carried": ("lstm_backward", ("da_prevt, dc_prevt, caches[t]",
                                                    "da_prevt, np.zeros((n_a, m)), caches[t]")),
    "lstm_time_forwards": ("lstm_backward", ("reversed(range(T_x))", "range(T_x)")),
    "input_mutated": ("rnn_backward", ("step = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])",
                                       "da[:, :, t] += da_prevt\n        step = rnn_cell_backward(da[:, :, t], caches[t])")),
}

# Wrong answers no named mistake describes, as real students wrote them (issue 16).
WRONG_ANSWERS = {
    # c_next starts as a view of c: step 0's cache keeps it, and c[:, :, 0] = c_next then
    # overwrites it. The outputs are right; backprop through step 0's cache is not.
    "lstm_c_view": ("lstm_forward", ("c_next = np.zeros((n_a, m))", "c_next = c[:, :, 0]")),
    # The outputs are right, but every step's cache says a0 came in.
    "a0_cached_every_step": ("rnn_forward", ("caches.append(cache)", "caches.append((cache[0], a0) + cache[2:])")),
    # Only the last step's cache is kept.
    "last_cache_only": ("rnn_forward", ("caches.append(cache)", "caches = cache")),
    # Typo: gradients["dwax"] for gradients["dWax"] (a KeyError on every input).
    "typo_dwax": ("rnn_backward", ('dWax += step["dWax"]', 'dWax += step["dwax"]')),
    # y_pred[:, :, t] = yt_pred.squeeze(): a shape error when m = 1 (and n_y > 1).
    "squeeze": ("rnn_forward", ("y_pred[:, :, t] = yt_pred", "y_pred[:, :, t] = yt_pred.squeeze()")),
    # Messages that were weak (issue 16): a cell computing in float32 from float32 copies of its
    # inputs (right within float32, the cache holds the copies); a loop one step short;
    # * for a matrix product; a product of matrices in the wrong order.
    "float32_inputs": ("rnn_cell_forward", ("    a_next = np.tanh(", "    xt, a_prev = xt.astype(np.float32), "
                                            "a_prev.astype(np.float32)\n    a_next = np.tanh(")),
    "one_step_short": ("rnn_forward", ("for t in range(T_x):", "for t in range(T_x - 1):")),
    "star_for_matmul": ("rnn_cell_forward", ("Waa @ a_prev", "Waa * a_prev")),
    "dz_at_xt": ("rnn_cell_backward", ("dWax = dz @ xt.T", "dWax = dz @ xt")),
    # Mistakes without a name, that a relation to the right outputs names (rnn_relations.py):
    # a transposed gradient (dWax of shape (n_x, n_a));
    "dwax_transposed": ("rnn_cell_backward", ("dWax = dz @ xt.T", "dWax = xt @ dz.T")),
    # neither da_prevt nor dc_prevt carried back (a bug in an old Coursera template);
    "lstm_nothing_carried": ("lstm_backward", ("da[:, :, t] + da_prevt, dc_prevt, caches[t]",
                                                "da[:, :, t], np.zeros((n_a, m)), caches[t]")),
    # the sigmoid applied twice to the forget gate.
    "lstm_forget_sigmoid_twice": ("lstm_cell_forward", ("ft = sigmoid(Wf @ concat + bf)",
                                                        "ft = sigmoid(sigmoid(Wf @ concat + bf))")),
}


def student(*mistake_ids):
    """A notebook-like namespace holding the reference answers with the edits of `mistake_ids`
    (none: a right student), loaded as rnn_utils.load_functions loads a student's cells."""
    sources = RNN.sources(RNN.functions)
    for mistake in mistake_ids:
        function, *edits = STUDENT_EDITS.get(mistake) or WRONG_ANSWERS[mistake]
        for old, new in edits:
            assert old in sources[function], f"the solution of {function} no longer contains {old!r}"
            sources[function] = sources[function].replace(old, new)
    namespace = {"np": np, "__name__": "student"}
    namespace.update({name: getattr(rnn_utils, name) for name in rnn_utils.__all__})
    for function in RNN.functions:
        filename = f"<student {function}>"
        # As IPython does for a cell: tracebacks then show the student's lines.
        linecache.cache[filename] = (len(sources[function]), None, sources[function].splitlines(True), filename)
        exec(compile(sources[function], filename, "exec"), namespace)
    return namespace


def visible(kind, function, namespace):
    """Run the visible test `kind` ("shapes" or "values") of `function` with the student's functions
    in `namespace`, as the notebook's test cell does (run beside visible_expected.json)."""
    check = getattr(rnn_utils, f"check_{function}_{kind}")
    feeder = rnn_utils.FEEDERS.get(function)
    return check(namespace[function], namespace[feeder]) if feeder else check(namespace[function])
