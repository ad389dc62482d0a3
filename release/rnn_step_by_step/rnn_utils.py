"""Helpers for the "RNN step by step" notebooks.

Shapes follow the notebooks' notation:

    n_x  units of one input vector        x     (n_x, m, T_x)
    n_a  units of the hidden state        a     (n_a, m, T_x)
    n_y  units of one prediction          y     (n_y, m, T_x)
    m    examples in the mini-batch
    T_x  time steps

Every helper computes in float64. This module holds no answer to any exercise:
the visible tests compare your results with ``visible_expected.json``, the
outputs of the reference solution on one fixed example, which ``make release``
regenerates beside the notebooks.
"""

import ast
import copy
import json
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["softmax", "sigmoid", "initialize_parameters", "example_inputs",
           "load_functions", "numerical_gradient", "relative_error", "gradient_check", "Adam"]

EXPECTED_FILE = "visible_expected.json"


# --------------------------------------------------------------------------
# Maths the notebooks call
# --------------------------------------------------------------------------

def softmax(x):
    """Column-wise softmax.

    x -- array of shape (n_y, m): one column of scores per example.
    Returns an array of the same shape whose columns are probability vectors.

    Each column's own maximum is subtracted before exponentiating: the result is
    unchanged (softmax is invariant to adding a constant to a column) and
    np.exp never overflows. Subtracting one global maximum instead would let a
    column far below it underflow to 0/0.
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def sigmoid(x):
    """Element-wise logistic function 1 / (1 + exp(-x)), any shape, overflow-safe."""
    x = np.asarray(x, dtype=np.float64)
    # exp of a non-positive number never overflows: use exp(-|x|) on both sides.
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def initialize_parameters(n_a, n_x, n_y, seed=1, scale=1.0):
    """Random RNN parameters, reproducible from `seed`.

    Returns a dict of float64 arrays:
        Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)
    drawn from a standard normal times `scale` (the notebooks use scale=1 so that
    mistakes show up as large differences; training code would use ~0.01).
    """
    rng = np.random.default_rng(seed)
    return {
        "Wax": scale * rng.standard_normal((n_a, n_x)),
        "Waa": scale * rng.standard_normal((n_a, n_a)),
        "Wya": scale * rng.standard_normal((n_y, n_a)),
        "ba": scale * rng.standard_normal((n_a, 1)),
        "by": scale * rng.standard_normal((n_y, 1)),
    }


def example_inputs(seed=1, n_x=3, n_a=5, n_y=2, m=10, T_x=4, output_scale=1.0):
    """One reproducible example for the exercises.

    Returns a dict with
        x           (n_x, m, T_x)   inputs
        a0          (n_a, m)        initial hidden state
        da          (n_a, m, T_x)   upstream gradients dJ/da<t> for the backward pass
        parameters  see initialize_parameters; Wya and by multiplied by `output_scale`
                    (a large one gives scores far apart, where a naive softmax overflows)
    The visible tests use the defaults (seed 1), then the other EXAMPLES.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_x, m, T_x))
    a0 = rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))
    parameters = initialize_parameters(n_a, n_x, n_y, seed=seed + 1000)
    parameters["Wya"] *= output_scale
    parameters["by"] *= output_scale
    return {"x": x, "a0": a0, "da": da, "parameters": parameters}


# --------------------------------------------------------------------------
# Finite differences
# --------------------------------------------------------------------------

def numerical_gradient(f, x, eps=1e-6):
    """Centred finite-difference gradient of a scalar function.

    f -- function of no argument returning a float; it must read `x`
    x -- float64 array that f depends on; perturbed in place, restored after
    Returns an array of x's shape: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for
    every entry i. The error is O(eps**2), so about 1e-10 relative for smooth f.
    """
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64):
        raise TypeError("numerical_gradient needs a float64 numpy array to perturb in place")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + eps
        plus = f()
        x[i] = saved - eps
        minus = f()
        x[i] = saved
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a, b):
    """|a - b| / max(|a|, |b|) over whole arrays (0 when both are 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


GRADIENT_KEYS_CELL = ("dxt", "da_prev", "dWax", "dWaa", "dba")
GRADIENT_KEYS = ("dx", "da0", "dWax", "dWaa", "dba")


def gradient_check(forward, backward, seed=5, eps=1e-6, tolerance=1e-7):
    """Check your backward pass against finite differences of your forward pass.

    forward, backward -- rnn_cell_forward and rnn_cell_backward, or rnn_forward and
        rnn_backward (told apart by the forward function's name)
    seed -- the small random example used: n_x=3, n_a=4, n_y=2, m=3, T_x=3

    The loss is J = sum(da * a) over the hidden states `a` your forward pass returns,
    so dJ/da = da: your backward pass gets `da`, and every gradient it returns (dxt or dx,
    da_prev or da0, dWax, dWaa, dba) is compared with the centred difference
    (J(w + eps) - J(w - eps)) / (2 eps) for every entry w of that input. A right backward
    pass agrees to about 1e-10; a relative error above `tolerance` means a mistake.
    Prints one line per gradient and returns {gradient name: relative error}
    (None for a gradient that is missing or has the wrong shape).
    """
    name = getattr(forward, "__name__", "")
    if name not in ("rnn_cell_forward", "rnn_forward"):
        raise ValueError("gradient_check(forward, backward) needs rnn_cell_forward and rnn_cell_backward, "
                         f"or rnn_forward and rnn_backward; got {name or forward!r}.")
    cell = name == "rnn_cell_forward"
    ex = example_inputs(seed=seed, n_x=3, n_a=4, n_y=2, m=3, T_x=3)
    parameters = ex["parameters"]
    inputs = [ex["x"][:, :, 0].copy(), ex["a0"]] if cell else [ex["x"], ex["a0"]]
    da = ex["da"][:, :, 0] if cell else ex["da"]
    keys = GRADIENT_KEYS_CELL if cell else GRADIENT_KEYS
    wrt = dict(zip(keys, inputs + [parameters["Wax"], parameters["Waa"], parameters["ba"]]))

    def loss():
        return float(np.sum(da * _call(forward, *inputs, parameters)[0]))

    gradients = _call(backward, da, _call(forward, *inputs, parameters)[2])
    backward_name = getattr(backward, "__name__", "the backward pass")
    print(f"Gradient check of {backward_name} against finite differences of {name}:")
    errors = {}
    for key, array in wrt.items():
        got = gradients.get(key) if isinstance(gradients, dict) else None
        if got is None or np.shape(got) != array.shape:
            errors[key] = None
            print(f"  {key:8s} MISSING or wrong shape: expected an array of shape {array.shape}")
            continue
        errors[key] = relative_error(got, numerical_gradient(loss, array, eps))
        verdict = "ok" if errors[key] < tolerance else f"WRONG: relative error {errors[key]:.1e}"
        print(f"  {key:8s} {verdict}")
    off = [key for key, error in errors.items() if error is None or error >= tolerance]
    if off:
        print(f"{len(off)} of {len(errors)} gradients disagree with finite differences: {', '.join(off)}. "
              f"Look at how {backward_name} computes {'it' if len(off) == 1 else 'them'}.")
    else:
        print(f"All {len(errors)} gradients agree with finite differences (relative error below {tolerance:.0e}).")
    return errors


class Adam:
    """The Adam optimiser (Kingma and Ba, 2015), for the training lab.

    adam = Adam(parameters, learning_rate=0.005)
    adam.step(parameters, gradients)   # updates the arrays of `parameters` in place

    `gradients` holds "d" + name for every parameter name (dWax for Wax, dby for by).
    Each parameter keeps running averages of its gradient (m) and of its square (v); the
    step is learning_rate * m_hat / (sqrt(v_hat) + epsilon), with m_hat and v_hat corrected
    for starting at zero. So every entry moves by about learning_rate at most, whatever the
    scale of its gradient: the first step is learning_rate times the gradient's sign.
    """

    def __init__(self, parameters, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.m = {name: np.zeros_like(value) for name, value in parameters.items()}
        self.v = {name: np.zeros_like(value) for name, value in parameters.items()}
        self.t = 0

    def step(self, parameters, gradients):
        self.t += 1
        for name, value in parameters.items():
            g = gradients["d" + name]
            self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * g
            self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * g * g
            m_hat = self.m[name] / (1 - self.beta1 ** self.t)
            v_hat = self.v[name] / (1 - self.beta2 ** self.t)
            value -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)


# --------------------------------------------------------------------------
# Reusing your own functions from earlier notebooks
# --------------------------------------------------------------------------

def _defined_names(source):
    """Names of the functions a cell defines at top level ({} if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def answer_cells(*names, folder="."):
    """{name: (notebook file name, source)} of the answer cells defining the functions `names`.

    Looks through the notebooks (``*.ipynb``, in name order) of `folder`; the first answer
    cell that defines a name wins. Raises LookupError naming what no answer cell defines.
    """
    folder = Path(folder)
    found = {}
    for path in sorted(folder.glob("*.ipynb")):
        # Read as plain JSON: importing nbformat would add a second to every notebook's start.
        try:
            with open(path, encoding="utf-8") as f:
                cells = json.load(f).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue  # not a notebook (a broken copy, say): it defines nothing
        for cell in cells:
            is_answer = cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)
            if cell.get("cell_type") == "code" and is_answer:
                source = cell.get("source", "")
                source = "".join(source) if isinstance(source, list) else source
                for name in _defined_names(source) & (set(names) - set(found)):
                    found[name] = (path.name, source)
    missing = sorted(set(names) - set(found))
    if missing:
        raise LookupError(
            "No answer cell in the notebooks of %s defines %s. Keep the function names "
            "and the answer cells as they were released." % (folder.resolve(), ", ".join(missing)))
    return found


def load_functions(*names, folder="."):
    """Load your answers from the notebooks in `folder`, without running them.

    Finds the answer cells that define the functions `names` (see answer_cells), runs
    those cells in one fresh namespace (with numpy as ``np`` and this module's helpers),
    and returns the functions in the order asked. So notebook 2 can call the
    ``rnn_cell_forward`` you wrote in notebook 1:
    ``rnn_cell_forward, = load_functions("rnn_cell_forward")``.
    """
    namespace = {"np": np, "__name__": "rnn_answers"}
    namespace.update({name: globals()[name] for name in __all__})
    done = set()
    for name, (notebook, source) in answer_cells(*names, folder=folder).items():
        if source not in done:  # a cell defining several of the names runs once
            exec(compile(source, f"{notebook}:{name}", "exec"), namespace)
            done.add(source)
    return tuple(namespace[name] for name in names)


# --------------------------------------------------------------------------
# Visible tests
# --------------------------------------------------------------------------

# Every visible test runs the function on these examples (keyword arguments of
# example_inputs); only the first one's values are printed. The others catch what it
# cannot: swapped weights still multiply when n_x = n_a, and a naive softmax overflows
# on large scores.
EXAMPLES = {
    "the example": {},
    "a square example (n_x = n_a)": dict(seed=2, n_x=4, n_a=4, n_y=3, m=6, T_x=3),
    "an example with large scores": dict(seed=3, m=8, T_x=2, output_scale=1000.0),
}
FIRST = "the example"
LARGE_SCORES = "an example with large scores"

# The outputs each exercise is judged on, by name.
OUTPUTS = {
    "rnn_cell_forward": ("a_next", "yt_pred"),
    "rnn_forward": ("a", "y_pred"),
    "rnn_cell_backward": GRADIENT_KEYS_CELL,
    "rnn_backward": GRADIENT_KEYS,
}
RTOL, ATOL = 1e-4, 1e-6


class EarlierNotebookError(AssertionError):
    """The function under test is fed by one from an earlier notebook that is wrong."""


class KnownMistake(AssertionError):
    """A failure whose message already names the student's mistake."""


def _data():
    path = Path(EXPECTED_FILE)
    if not path.exists():
        raise FileNotFoundError(
            f"{EXPECTED_FILE} is missing: it ships beside the notebooks; copy it back from the release.")
    return _parsed(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _parsed(path, mtime_ns):
    """visible_expected.json, parsed once per version of the file (a test reads it many times)."""
    with open(path) as f:
        return json.load(f)


def _arrays(values):
    return None if values is None else {key: np.array(value, dtype=np.float64) for key, value in values.items()}


def _expected(part, example=FIRST):
    """The reference outputs of one exercise on one of the EXAMPLES."""
    return _arrays(_data()[part]["reference"][example])


def exercise_arguments(part, ex, forward=None):
    """The arguments the exercise `part` is tested with on example `ex` (a dict of
    example_inputs); a backward pass gets the caches of `forward` (a forward function)."""
    x, a0, da, parameters = ex["x"], ex["a0"], ex["da"], ex["parameters"]
    if part == "rnn_cell_forward":
        return x[:, :, 0], a0, parameters
    if part == "rnn_forward":
        return x, a0, parameters
    if part == "rnn_cell_backward":
        return da[:, :, 0], _call(forward, x[:, :, 0], a0, parameters)[2]
    if part == "rnn_backward":
        return da, _call(forward, x, a0, parameters)[2]
    raise KeyError(part)


def exercise_outputs(part, result):
    """{output name: value} of what the exercise `part` returned."""
    if part in ("rnn_cell_forward", "rnn_forward"):
        return dict(zip(OUTPUTS[part], result[:2]))
    return {key: result[key] for key in OUTPUTS[part]}


def outputs_match(got, want, rtol=RTOL, atol=ATOL):
    """Whether two {name: array} are equal within tolerance (NaN equal to NaN, shapes equal);
    None stands for "raised an error" and matches only None."""
    if got is None or want is None:
        return got is None and want is None
    if set(got) != set(want):
        return False
    for key, value in want.items():
        try:
            value_got = np.asarray(got[key], dtype=np.float64)
        except (TypeError, ValueError):
            return False
        value = np.asarray(value, dtype=np.float64)
        if value_got.shape != value.shape or not np.allclose(value_got, value, rtol, atol, equal_nan=True):
            return False
    return True


FEEDERS = {"rnn_cell_backward": "rnn_cell_forward", "rnn_backward": "rnn_forward"}


def _fed_arguments(part, example, forward=None):
    """The arguments of exercise `part` on one of the EXAMPLES. A backward pass gets the
    caches of your forward pass, whose values are checked first: if they are wrong, the
    mistake is in the earlier notebook, and this test says so instead of blaming this one."""
    ex = example_inputs(**EXAMPLES[example])
    feeder = FEEDERS.get(part)
    if feeder:
        key = OUTPUTS[feeder][0]
        got = _call(forward, *exercise_arguments(feeder, ex))
        if not outputs_match({key: got[0]}, {key: _expected(feeder, example)[key]}):
            notebooks = "notebook 1" if feeder == "rnn_cell_forward" else "notebooks 1 and 2"
            raise EarlierNotebookError(f"{feeder} (from {notebooks}) gives wrong values on {example}, so its "
                                       f"cache is wrong: fix {notebooks} first.")
    return exercise_arguments(part, ex, forward)


def _runner(part, function, forward=None):
    """run(example name) -> the outputs of your `function` on that example."""
    def run(example):
        return exercise_outputs(part, _call(function, *_fed_arguments(part, example, forward)))
    return run


def known_mistake(part, seen, mistakes, large=LARGE_SCORES):
    """The "Known mistake: ..." sentence of the first mistake whose outputs equal `seen`
    ({example: outputs, or None where it raised}) on every example it is judged on, or None.
    Mistakes of numerical stability are judged on `large` too; the others are not."""
    for mistake in mistakes:
        judged = [name for name in seen if mistake["stability"] or name != large]
        if all(outputs_match(seen[name], mistake["outputs"][name]) for name in judged):
            return f"Known mistake: {mistake['name']}. {mistake['hint']}"
    return None


def _diagnose(part, run):
    seen = {}
    for example in EXAMPLES:
        try:
            with np.errstate(all="ignore"):
                seen[example] = run(example)
        except (NotImplementedError, EarlierNotebookError):
            raise
        except Exception:  # a mistake may raise where the student's code does (a shape mismatch)
            seen[example] = None
    mistakes = [dict(m, outputs={k: _arrays(v) for k, v in m["outputs"].items()})
                for m in _data()[part]["mistakes"]]
    return known_mistake(part, seen, mistakes)


@contextmanager
def _diagnosed(part, run):
    """On a failure inside, add the name of the known mistake it comes from, if any."""
    try:
        yield
    except (NotImplementedError, EarlierNotebookError, KnownMistake):
        raise
    except Exception as failure:
        hint = _diagnose(part, run)
        if hint is None:
            raise
        what = str(failure) if isinstance(failure, AssertionError) else \
            f"{part} raised {type(failure).__name__}: {failure}."
        raise KnownMistake(f"{what} {hint}") from None


def _show(label, array):
    """Print a labelled array with 6 decimals, so outputs compare as text."""
    text = np.array2string(np.asarray(array, dtype=np.float64), precision=6, suppress_small=True,
                           floatmode="fixed", max_line_width=100)
    print(f"{label} =\n{text}" if "\n" in text else f"{label} = {text}")


def _call(function, *args):
    """Call a student's function; say which notebook to finish when a part is a stub."""
    try:
        return function(*args)
    except NotImplementedError:
        raise NotImplementedError(
            f"{getattr(function, '__name__', function)} (or a function it calls from an earlier "
            "notebook) is not implemented yet: write the answer cell, run it, then re-run this test."
        ) from None


def _check_tuple(result, name, names):
    assert isinstance(result, tuple) and len(result) == len(names), (
        f"{name} must return a tuple of {len(names)} values ({', '.join(names)}), "
        f"got {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, tuple) else ""))


def _check_shape(value, label, shape):
    got = np.shape(value)
    assert got == tuple(shape), f"{label} has shape {got}, expected {tuple(shape)}."


def largest_error_index(value, expected):
    """The index of the entry of `value` farthest from `expected` (a NaN counts as farthest)."""
    difference = np.where(np.isnan(value), np.inf, np.abs(value - expected))
    return tuple(int(i) for i in np.unravel_index(np.argmax(difference), np.shape(expected)))


def _check_values(value, label, expected, where=""):
    _check_shape(value, label, expected.shape)
    value = np.asarray(value, dtype=np.float64)
    if not np.allclose(value, expected, rtol=RTOL, atol=ATOL, equal_nan=False):
        index = largest_error_index(value, expected)
        raise AssertionError(
            f"Wrong values in {label}{where}: at index {index} you have "
            f"{value[index]:.6f}, expected {expected[index]:.6f}.")


def _check_other_examples(part, run, labels):
    """The values on every example but the first (whose values the test printed)."""
    for example in EXAMPLES:
        if example != FIRST:
            got, expected = run(example), _expected(part, example)
            for key in OUTPUTS[part]:
                _check_values(got[key], labels.get(key, key), expected[key], where=f" on {example}")


def _check_unchanged(function, names, before, after):
    for name, old, new in zip(names, before, after):
        if not same_structure(old, new):
            mistake = _data()["input_mutated"]
            raise KnownMistake(f"{function} changed its argument {name} in place. "
                               f"Known mistake: {mistake['name']}. {mistake['hint']}")


def same_structure(a, b):
    """Deep equality of nested tuples, lists and dicts of arrays (to see a mutated input)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_structure, a, b))
    return a == b


def _called(function, part, names, args):
    """function(*args), checking it leaves its arguments as they came."""
    before = copy.deepcopy(args)
    result = _call(function, *args)
    _check_unchanged(part, names, before, args)
    return result


def check_rnn_cell_forward_shapes(rnn_cell_forward):
    """Visible test: shapes of rnn_cell_forward's outputs and cache."""
    with _diagnosed("rnn_cell_forward", _runner("rnn_cell_forward", rnn_cell_forward)):
        xt, a_prev, parameters = exercise_arguments("rnn_cell_forward", example_inputs())
        result = _call(rnn_cell_forward, xt, a_prev, parameters)
        _check_tuple(result, "rnn_cell_forward", ["a_next", "yt_pred", "cache"])
        a_next, yt_pred, cache = result
        _check_shape(a_next, "a_next", a_prev.shape)
        _check_shape(yt_pred, "yt_pred", (parameters["Wya"].shape[0], xt.shape[1]))
        assert isinstance(cache, tuple) and len(cache) == 4, \
            "cache must be the tuple (a_next, a_prev, xt, parameters)."
    print("a_next.shape =", a_next.shape)
    print("yt_pred.shape =", yt_pred.shape)
    print("All shape tests passed.")


def check_rnn_cell_forward_values(rnn_cell_forward):
    """Visible test: values of rnn_cell_forward on the examples."""
    run = _runner("rnn_cell_forward", rnn_cell_forward)
    with _diagnosed("rnn_cell_forward", run):
        args = exercise_arguments("rnn_cell_forward", example_inputs())
        a_next, yt_pred, cache = _called(rnn_cell_forward, "rnn_cell_forward", ("xt", "a_prev", "parameters"),
                                         args)
        expected = _expected("rnn_cell_forward")
        _show("a_next[4]", a_next[4])
        _show("yt_pred[1]", yt_pred[1])
        _check_values(a_next, "a_next", expected["a_next"])
        _check_values(yt_pred, "yt_pred", expected["yt_pred"])
        xt, a_prev, parameters = args
        assert (isinstance(cache, tuple) and len(cache) == 4 and np.array_equal(cache[0], a_next)
                and np.array_equal(cache[1], a_prev) and np.array_equal(cache[2], xt) and cache[3] is parameters), \
            "cache must be (a_next, a_prev, xt, parameters), in that order."
        _check_other_examples("rnn_cell_forward", run, {})
    print("All value tests passed.")


def check_rnn_forward_shapes(rnn_forward):
    """Visible test: shapes of rnn_forward's outputs and caches."""
    with _diagnosed("rnn_forward", _runner("rnn_forward", rnn_forward)):
        x, a0, parameters = exercise_arguments("rnn_forward", example_inputs())
        result = _call(rnn_forward, x, a0, parameters)
        _check_tuple(result, "rnn_forward", ["a", "y_pred", "caches"])
        a, y_pred, caches = result
        n_x, m, T_x = x.shape
        _check_shape(a, "a", (a0.shape[0], m, T_x))
        _check_shape(y_pred, "y_pred", (parameters["Wya"].shape[0], m, T_x))
        assert isinstance(caches, tuple) and len(caches) == 2, "caches must be the tuple (list_of_caches, x)."
        assert len(caches[0]) == T_x, \
            f"caches[0] must hold one cache per time step ({T_x}), got {len(caches[0])}."
    print("a.shape =", a.shape)
    print("y_pred.shape =", y_pred.shape)
    print("len(caches[0]) =", len(caches[0]))
    print("All shape tests passed.")


def check_rnn_forward_values(rnn_forward):
    """Visible test: values of rnn_forward on the examples."""
    run = _runner("rnn_forward", rnn_forward)
    with _diagnosed("rnn_forward", run):
        args = exercise_arguments("rnn_forward", example_inputs())
        a, y_pred, caches = _called(rnn_forward, "rnn_forward", ("x", "a0", "parameters"), args)
        expected = _expected("rnn_forward")
        _show("a[4][1]", a[4][1])
        _show("y_pred[1][3]", y_pred[1][3])
        _check_values(a, "a", expected["a"])
        _check_values(y_pred, "y_pred", expected["y_pred"])
        assert np.array_equal(caches[1], args[0]), "caches[1] must be the input x."
        _check_other_examples("rnn_forward", run, {})
    print("All value tests passed.")


def _gradient_shapes(ex, keys):
    n_x, m, T_x = ex["x"].shape
    n_a = ex["a0"].shape[0]
    first = (n_x, m) if keys[0] == "dxt" else (n_x, m, T_x)
    return dict(zip(keys, [first, (n_a, m), (n_a, n_x), (n_a, n_a), (n_a, 1)]))


def _check_gradients(gradients, name, keys, shapes):
    assert isinstance(gradients, dict), f"{name} must return a dict of gradients, got {type(gradients).__name__}."
    missing = [key for key in keys if key not in gradients]
    assert not missing, f"{name}'s gradients lack the key(s) {', '.join(missing)}."
    for key in keys:
        _check_shape(gradients[key], f'gradients["{key}"]', shapes[key])


def _backward_shapes(part, function, forward):
    """Visible shapes test of a backward pass, on the caches of your forward pass."""
    with _diagnosed(part, _runner(part, function, forward)):
        gradients = _call(function, *_fed_arguments(part, FIRST, forward))
        _check_gradients(gradients, part, OUTPUTS[part], _gradient_shapes(example_inputs(), OUTPUTS[part]))
    for key in OUTPUTS[part]:
        print(f'gradients["{key}"].shape =', np.shape(gradients[key]))
    print("All shape tests passed.")


def _backward_values(part, function, forward, names, shown):
    """Visible values test of a backward pass: print the entries `shown` ((key, index)
    pairs) on the first example, then compare every gradient on every example."""
    run = _runner(part, function, forward)
    with _diagnosed(part, run):
        gradients = _called(function, part, names, list(_fed_arguments(part, FIRST, forward)))
        _check_gradients(gradients, part, OUTPUTS[part], {k: v.shape for k, v in _expected(part).items()})
        for key, index in shown:
            _show(f'gradients["{key}"]' + "".join(f"[{i}]" for i in index), gradients[key][index])
        expected = _expected(part)
        for key in OUTPUTS[part]:
            _check_values(gradients[key], f'gradients["{key}"]', expected[key])
        _check_other_examples(part, run, {key: f'gradients["{key}"]' for key in OUTPUTS[part]})
    print("All value tests passed.")


def check_rnn_cell_backward_shapes(rnn_cell_backward, rnn_cell_forward):
    """Visible test: keys and shapes of rnn_cell_backward's gradients."""
    _backward_shapes("rnn_cell_backward", rnn_cell_backward, rnn_cell_forward)


def check_rnn_cell_backward_values(rnn_cell_backward, rnn_cell_forward):
    """Visible test: values of rnn_cell_backward on the examples."""
    _backward_values("rnn_cell_backward", rnn_cell_backward, rnn_cell_forward, ("da_next", "cache"),
                     [("dxt", (1, 2)), ("da_prev", (2, 3)), ("dWax", (3, 1)), ("dba", (4,))])


def check_rnn_backward_shapes(rnn_backward, rnn_forward):
    """Visible test: keys and shapes of rnn_backward's gradients."""
    _backward_shapes("rnn_backward", rnn_backward, rnn_forward)


def check_rnn_backward_values(rnn_backward, rnn_forward):
    """Visible test: values of rnn_backward on the examples."""
    _backward_values("rnn_backward", rnn_backward, rnn_forward, ("da", "caches"),
                     [("dx", (1, 2)), ("da0", (2, 3)), ("dWax", (3, 1)), ("dWaa", (1, 2)), ("dba", (4,))])
