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
import json
from pathlib import Path

import numpy as np

__all__ = ["softmax", "sigmoid", "initialize_parameters", "example_inputs",
           "load_functions", "numerical_gradient", "relative_error"]

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


def example_inputs(seed=1, n_x=3, n_a=5, n_y=2, m=10, T_x=4):
    """One reproducible example for the exercises.

    Returns a dict with
        x           (n_x, m, T_x)   inputs
        a0          (n_a, m)        initial hidden state
        da          (n_a, m, T_x)   upstream gradients dJ/da<t> for the backward pass
        parameters  see initialize_parameters
    The visible tests use the defaults (seed 1).
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_x, m, T_x))
    a0 = rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))
    parameters = initialize_parameters(n_a, n_x, n_y, seed=seed + 1000)
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

def _expected(part):
    """The reference outputs on example_inputs() for one exercise."""
    path = Path(EXPECTED_FILE)
    if not path.exists():
        raise FileNotFoundError(
            f"{EXPECTED_FILE} is missing: it ships beside the notebooks; copy it back from the release.")
    with open(path) as f:
        data = json.load(f)[part]
    return {key: np.array(value) for key, value in data.items()}


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


def _check_values(value, label, expected):
    value = np.asarray(value, dtype=np.float64)
    if not np.allclose(value, expected, rtol=1e-4, atol=1e-6):
        index = np.unravel_index(np.argmax(np.abs(value - expected)), expected.shape)
        raise AssertionError(
            f"Wrong values in {label}: at index {tuple(int(i) for i in index)} you have "
            f"{value[index]:.6f}, expected {expected[index]:.6f}.")


def _cell_inputs(ex):
    return ex["x"][:, :, 0], ex["a0"], ex["parameters"]


def check_rnn_cell_forward_shapes(rnn_cell_forward):
    """Visible test: shapes of rnn_cell_forward's outputs and cache."""
    ex = example_inputs()
    xt, a_prev, parameters = _cell_inputs(ex)
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
    """Visible test: values of rnn_cell_forward on the fixed example."""
    ex = example_inputs()
    expected = _expected("rnn_cell_forward")
    a_next, yt_pred, cache = _call(rnn_cell_forward, *_cell_inputs(ex))
    _show("a_next[4]", a_next[4])
    _show("yt_pred[1]", yt_pred[1])
    _check_values(a_next, "a_next", expected["a_next"])
    _check_values(yt_pred, "yt_pred", expected["yt_pred"])
    xt, a_prev, parameters = _cell_inputs(ex)
    assert (np.array_equal(cache[0], a_next) and np.array_equal(cache[1], a_prev)
            and np.array_equal(cache[2], xt) and cache[3] is parameters), \
        "cache must be (a_next, a_prev, xt, parameters), in that order."
    print("All value tests passed.")


def check_rnn_forward_shapes(rnn_forward):
    """Visible test: shapes of rnn_forward's outputs and caches."""
    ex = example_inputs()
    x, a0, parameters = ex["x"], ex["a0"], ex["parameters"]
    result = _call(rnn_forward, x, a0, parameters)
    _check_tuple(result, "rnn_forward", ["a", "y_pred", "caches"])
    a, y_pred, caches = result
    n_x, m, T_x = x.shape
    _check_shape(a, "a", (a0.shape[0], m, T_x))
    _check_shape(y_pred, "y_pred", (parameters["Wya"].shape[0], m, T_x))
    assert isinstance(caches, tuple) and len(caches) == 2, "caches must be the tuple (list_of_caches, x)."
    assert len(caches[0]) == T_x, f"caches[0] must hold one cache per time step ({T_x}), got {len(caches[0])}."
    print("a.shape =", a.shape)
    print("y_pred.shape =", y_pred.shape)
    print("len(caches[0]) =", len(caches[0]))
    print("All shape tests passed.")


def check_rnn_forward_values(rnn_forward):
    """Visible test: values of rnn_forward on the fixed example."""
    ex = example_inputs()
    expected = _expected("rnn_forward")
    a, y_pred, caches = _call(rnn_forward, ex["x"], ex["a0"], ex["parameters"])
    _show("a[4][1]", a[4][1])
    _show("y_pred[1][3]", y_pred[1][3])
    _check_values(a, "a", expected["a"])
    _check_values(y_pred, "y_pred", expected["y_pred"])
    assert np.array_equal(caches[1], ex["x"]), "caches[1] must be the input x."
    print("All value tests passed.")


GRADIENT_KEYS_CELL = ("dxt", "da_prev", "dWax", "dWaa", "dba")
GRADIENT_KEYS = ("dx", "da0", "dWax", "dWaa", "dba")


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


def _cell_backward_inputs(ex, rnn_cell_forward):
    xt, a_prev, parameters = _cell_inputs(ex)
    a_next, yt_pred, cache = _call(rnn_cell_forward, xt, a_prev, parameters)
    expected = _expected("rnn_cell_forward")
    if not np.allclose(a_next, expected["a_next"], rtol=1e-4, atol=1e-6):
        raise AssertionError("rnn_cell_forward (from notebook 1) gives wrong values, so its cache is wrong: "
                             "fix notebook 1 first.")
    return ex["da"][:, :, 0], cache


def _backward_shapes(function, keys, ex, gradients):
    _check_gradients(gradients, function, keys, _gradient_shapes(ex, keys))
    for key in keys:
        print(f'gradients["{key}"].shape =', np.shape(gradients[key]))
    print("All shape tests passed.")


def _backward_values(function, keys, gradients, shown):
    """Print the entries `shown` ((key, index) pairs), then compare every gradient."""
    expected = _expected(function)
    for key, index in shown:
        _show(f'gradients["{key}"]' + "".join(f"[{i}]" for i in index), gradients[key][index])
    for key in keys:
        _check_values(gradients[key], f'gradients["{key}"]', expected[key])
    print("All value tests passed.")


def check_rnn_cell_backward_shapes(rnn_cell_backward, rnn_cell_forward):
    """Visible test: keys and shapes of rnn_cell_backward's gradients."""
    ex = example_inputs()
    gradients = _call(rnn_cell_backward, *_cell_backward_inputs(ex, rnn_cell_forward))
    _backward_shapes("rnn_cell_backward", GRADIENT_KEYS_CELL, ex, gradients)


def check_rnn_cell_backward_values(rnn_cell_backward, rnn_cell_forward):
    """Visible test: values of rnn_cell_backward on the fixed example."""
    gradients = _call(rnn_cell_backward, *_cell_backward_inputs(example_inputs(), rnn_cell_forward))
    _backward_values("rnn_cell_backward", GRADIENT_KEYS_CELL, gradients,
                     [("dxt", (1, 2)), ("da_prev", (2, 3)), ("dWax", (3, 1)), ("dba", (4,))])


def _backward_inputs(ex, rnn_forward):
    a, y_pred, caches = _call(rnn_forward, ex["x"], ex["a0"], ex["parameters"])
    if not np.allclose(a, _expected("rnn_forward")["a"], rtol=1e-4, atol=1e-6):
        raise AssertionError("rnn_forward (from notebook 2) gives wrong values, so its caches are wrong: "
                             "fix notebooks 1 and 2 first.")
    return ex["da"], caches


def check_rnn_backward_shapes(rnn_backward, rnn_forward):
    """Visible test: keys and shapes of rnn_backward's gradients."""
    ex = example_inputs()
    gradients = _call(rnn_backward, *_backward_inputs(ex, rnn_forward))
    _backward_shapes("rnn_backward", GRADIENT_KEYS, ex, gradients)


def check_rnn_backward_values(rnn_backward, rnn_forward):
    """Visible test: values of rnn_backward on the fixed example."""
    gradients = _call(rnn_backward, *_backward_inputs(example_inputs(), rnn_forward))
    _backward_values("rnn_backward", GRADIENT_KEYS, gradients,
                     [("dx", (1, 2)), ("da0", (2, 3)), ("dWax", (3, 1)), ("dWaa", (1, 2)), ("dba", (4,))])
