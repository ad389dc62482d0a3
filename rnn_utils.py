"""Helpers for the "RNN step by step" notebooks.

Shapes follow the notebooks' notation:

    n_x  units of one input vector        x     (n_x, m, T_x)
    n_a  units of the hidden state        a     (n_a, m, T_x)
    n_y  units of one prediction          y     (n_y, m, T_x)
    m    examples in the mini-batch
    T_x  time steps

Every helper computes in float64. This module holds what you call; the visible tests
(rnn_utils.check_...) live in rnn_checks.py beside it. Neither holds an answer to any
exercise: the tests compare your results with ``visible_expected.json``, the outputs of
the reference solution on fixed examples, which ``make release`` regenerates beside the
notebooks.
"""

import ast
import importlib.util
import json
import linecache
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np


def _beside(name, **given):
    """The module `name` from the file beside this one (not whatever `import` finds first):
    the notebooks' copy of rnn_utils uses the copy beside it, the grader's its own. `given`
    are set on the module before it runs."""
    path = Path(__file__).resolve().with_name(f"{name}.py")  # a linked rnn_utils.py: its target's folder
    spec = importlib.util.spec_from_file_location(f"{name}_for_{__name__}", path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(given)
    spec.loader.exec_module(module)
    return module


_CHECKS = {}


def _checks(folder=None):
    """rnn_checks.py, the visible tests' machinery, with the exercises that exercises.py in
    `folder` declares: by default the one beside this file (the notebooks' copy), else the one
    in the working folder. Loaded once per folder, when a test first needs it."""
    if folder is None:
        here = Path(__file__).parent  # not resolved: a linked rnn_utils.py serves the folder it is linked in
        folder = globals().get("_DECLARED_IN") or (here if (here / "exercises.py").is_file() else Path.cwd())
    key = str(Path(folder).resolve())
    if key not in _CHECKS:
        _CHECKS[key] = _beside("rnn_checks", rnn_utils=sys.modules[__name__], folder=key)
    return _CHECKS[key]


def __getattr__(name):
    """rnn_utils.check_rnn_forward_values and the rest of the visible tests live in rnn_checks.py
    beside this file; the test cells reach them through this module."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return getattr(_checks(), name)
    except FileNotFoundError:
        if name.startswith("check_"):  # a test cell: say what is missing
            raise
    except AttributeError:
        pass
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


__all__ = ["softmax", "sigmoid", "initialize_parameters", "initialize_lstm_parameters", "example_inputs",
           "load_functions", "numerical_gradient", "relative_error", "gradient_check", "adam_state", "adam_update",
           "Adam"]

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


def initialize_lstm_parameters(n_a, n_x, n_y, seed=1, scale=1.0):
    """Random LSTM parameters, reproducible from `seed`.

    Returns a dict of float64 arrays, every gate acting on the concatenation [a_prev; xt]
    of n_a + n_x rows:
        Wf, Wi, Wc, Wo (n_a, n_a + n_x)   forget gate, update gate, candidate, output gate
        bf, bi, bc, bo (n_a, 1)
        Wy (n_y, n_a), by (n_y, 1)         the prediction
    drawn from a standard normal times `scale`.
    """
    rng = np.random.default_rng(seed)
    parameters = {}
    for gate in "fico":
        parameters["W" + gate] = scale * rng.standard_normal((n_a, n_a + n_x))
        parameters["b" + gate] = scale * rng.standard_normal((n_a, 1))
    parameters["Wy"] = scale * rng.standard_normal((n_y, n_a))
    parameters["by"] = scale * rng.standard_normal((n_y, 1))
    return parameters


def example_inputs(seed=1, n_x=3, n_a=5, n_y=2, m=10, T_x=4, output_scale=1.0):
    """One reproducible example for the exercises.

    Returns a dict with
        x           (n_x, m, T_x)   inputs
        a0          (n_a, m)        initial hidden state
        da          (n_a, m, T_x)   upstream gradients dJ/da<t> for the backward pass
        parameters  see initialize_parameters; Wya and by multiplied by `output_scale`
                    (a large one gives scores far apart, where a naive softmax overflows)
    and, for the LSTM,
        c0          (n_a, m)        a memory cell c_prev for lstm_cell_forward
        dc          (n_a, m)        upstream gradient dJ/dc<t> for lstm_cell_backward
        lstm_parameters  see initialize_lstm_parameters; Wy and by times `output_scale`
    The visible tests use the defaults (seed 1), then the other EXAMPLES.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_x, m, T_x))
    a0 = rng.standard_normal((n_a, m))
    da = rng.standard_normal((n_a, m, T_x))
    parameters = initialize_parameters(n_a, n_x, n_y, seed=seed + 1000)
    parameters["Wya"] *= output_scale
    parameters["by"] *= output_scale
    # The LSTM's arrays come from generators of their own, so the RNN's stay as they were.
    lstm = np.random.default_rng(seed + 2000)
    c0 = lstm.standard_normal((n_a, m))
    dc = lstm.standard_normal((n_a, m))
    lstm_parameters = initialize_lstm_parameters(n_a, n_x, n_y, seed=seed + 3000)
    lstm_parameters["Wy"] *= output_scale
    lstm_parameters["by"] *= output_scale
    return {"x": x, "a0": a0, "da": da, "parameters": parameters,
            "c0": c0, "dc": dc, "lstm_parameters": lstm_parameters}


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


def gradient_check(forward, backward, seed=5, eps=1e-6, tolerance=1e-7):
    """Check your backward pass against finite differences of your forward pass.

    forward, backward -- a forward pass and its backward pass: rnn_cell_forward and
        rnn_cell_backward, rnn_forward and rnn_backward, or the same of the LSTM (told apart
        by the forward function's name)
    seed -- the small random example used: n_x=3, n_a=4, n_y=2, m=3, T_x=3

    The loss is J = sum(da * a) over the hidden states `a` your forward pass returns (plus
    sum(dc * c_next) for lstm_cell_forward), so dJ/da = da: your backward pass gets `da` (and
    `dc`), and every gradient it returns (of the inputs: dxt or dx, da_prev or da0, dc_prev;
    of the weights and biases: dWax, dba, dWf, ...) is compared with the centred difference
    (J(w + eps) - J(w - eps)) / (2 eps) for every entry w of that input. A right backward
    pass agrees to about 1e-10; a relative error above `tolerance` means a mistake.
    Prints one line per gradient and returns {gradient name: relative error}
    (None for a gradient that is missing or has the wrong shape).
    """
    checks = _checks()
    name = getattr(forward, "__name__", "")
    part = next((b for b, f in checks.FEEDERS.items() if f == name), None)
    if part is None:
        pairs = [f"{f} and {b}" for b, f in checks.FEEDERS.items()]
        raise ValueError("gradient_check(forward, backward) needs a forward pass and its backward pass"
                         + (f", such as {pairs[0]}" if pairs else " (this assignment has none)")
                         + f"; got {name or forward!r}.")
    try:  # finite differences of a wrong forward pass make a right backward pass look wrong
        with np.errstate(all="ignore"):
            got = checks.exercise_outputs(name, checks._call(forward, *checks.exercise_arguments(name, example_inputs())))
        forward_wrong = not checks.outputs_match(got, checks._expected(name))
    except FileNotFoundError:  # no visible_expected.json here: nothing to compare the forward pass with
        forward_wrong = False
    except Exception:
        forward_wrong = True
    ex = example_inputs(seed=seed, n_x=3, n_a=4, n_y=2, m=3, T_x=3)
    *inputs, parameters = [np.array(a) if isinstance(a, np.ndarray) else a for a in checks.exercise_arguments(name, ex)]
    upstream = checks._upstream(part, ex)
    # The gradients of the inputs come first, in the inputs' order; then those of the parameters.
    wrt = {key: inputs[i] if i < len(inputs) else parameters[key[1:]] for i, key in enumerate(checks.OUTPUTS[part])}

    def loss():
        result = checks._call(forward, *inputs, parameters)
        return float(sum(np.sum(g * result[i]) for i, g in enumerate(upstream)))

    gradients = checks._call(backward, *upstream, checks._call(forward, *inputs, parameters)[-1])
    backward_name = getattr(backward, "__name__", "the backward pass")
    if forward_wrong:
        print(f"Warning: your {name} fails its values test, and the finite differences below are of it: "
              f"fix {name} first, or {backward_name} may look wrong when it is right.")
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


def adam_state(parameters):
    """Adam's state before its first step: {"t": 0, "m": zeros, "v": zeros}, the running averages
    (m of the gradients, v of their squares) by parameter name, each of its parameter's shape."""
    return {"t": 0, "m": {name: np.zeros_like(value) for name, value in parameters.items()},
            "v": {name: np.zeros_like(value) for name, value in parameters.items()}}


def adam_update(parameters, gradients, adam, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """One step of the Adam optimiser (Kingma and Ba, 2015). Returns new dicts
    (parameters, adam): the updated parameters and state; the arguments are left as they are.

    parameters -- {name: array}; gradients -- "d" + name for every parameter (dWax for Wax);
    adam -- the state: "t", the steps taken so far, and "m" and "v", {name: array} (adam_state).
    Each entry keeps a running average of its gradient (m) and of its square (v); the step is
    learning_rate * m_hat / (sqrt(v_hat) + epsilon), with m_hat and v_hat divided by
    1 - beta ** t to make up for starting at zero. So every entry moves by about learning_rate at
    most, whatever the scale of its gradient: the first step is learning_rate times its sign.
    """
    t = adam["t"] + 1
    new_parameters, m, v = {}, {}, {}
    for name, value in parameters.items():
        g = gradients["d" + name]
        m[name] = beta1 * adam["m"][name] + (1 - beta1) * g
        v[name] = beta2 * adam["v"][name] + (1 - beta2) * g * g
        m_hat = m[name] / (1 - beta1 ** t)
        v_hat = v[name] / (1 - beta2 ** t)
        new_parameters[name] = value - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    return new_parameters, {"t": t, "m": m, "v": v}


class Adam:
    """adam_update as an object that keeps the state, for the training lab:

    adam = Adam(parameters, learning_rate=0.005)
    adam.step(parameters, gradients)   # updates the arrays of `parameters` in place
    """

    def __init__(self, parameters, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.state = adam_state(parameters)

    def step(self, parameters, gradients):
        updated, self.state = adam_update(parameters, gradients, self.state, self.learning_rate,
                                          self.beta1, self.beta2, self.epsilon)
        for name, value in parameters.items():
            value[...] = updated[name]


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


# A notebook JupyterLab duplicated ("-Copy1") or a browser saved twice (" (1)"): one the student
# may not be working in, so the released name is preferred to it.
COPY_NAME = re.compile(r"(-Copy\d+| \(\d+\))\.ipynb$")
STUB = "raise NotImplementedError()"


@lru_cache(maxsize=4)
def _parsed(path, mtime_ns):
    """visible_expected.json, parsed once per version of the file (a test reads it many times)."""
    with open(path) as f:
        return json.load(f)


def _definitions(names, folder):
    """{name: [(notebook file name, source)]}: every answer cell of the notebooks (``*.ipynb``,
    in name order) of `folder` that defines one of the functions `names`."""
    found = {name: [] for name in names}
    for path in sorted(Path(folder).glob("*.ipynb")):
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
                for name in _defined_names(source) & set(names):
                    found[name].append((path.name, source))
    return found


def answer_cells(*names, folder="."):
    """{name: (notebook file name, source)} of the answer cells defining the functions `names`.

    Looks through the notebooks (``*.ipynb``, in name order) of `folder`; the first answer
    cell that defines a name wins; but the notebook the series defines it in (visible_expected.json
    says which) comes first, and a JupyterLab copy ("-Copy1") only when no other defines it.
    Raises LookupError naming what no answer cell defines."""
    return _chosen(names, folder, _definitions(names, folder), _released_notebooks(folder))


def _chosen(names, folder, everywhere, released):
    """answer_cells' choice among `everywhere` ({name: [(notebook, source)]}), `released` being
    {function: the notebook the series defines it in}."""
    # The series' own notebook first, then any but a copy, then the first by name.
    found = {name: min(places, key=lambda place: (place[0] != released.get(name), bool(COPY_NAME.search(place[0]))))
             for name, places in everywhere.items() if places}
    missing = sorted(set(names) - set(found))
    if missing:
        raise LookupError(
            "No answer cell in the notebooks of %s defines %s. Keep the function names "
            "and the answer cells as they were released." % (Path(folder).resolve(), ", ".join(missing)))
    return found


def _released_notebooks(folder):
    """{function: the notebook the series defines it in}, from visible_expected.json beside
    the notebooks ({} without one)."""
    path = Path(folder) / EXPECTED_FILE
    try:
        data = _parsed(str(path.resolve()), path.stat().st_mtime_ns)
    except (OSError, ValueError):
        return {}
    return {part: entry["notebook"] for part, entry in data.items() if isinstance(entry, dict) and "notebook" in entry}


def _loading_notes(names, folder, chosen, everywhere, released):
    """What a student should know about the functions load_functions found (`chosen`, among
    `everywhere`): where each came from, and whether it is the released stub, one of several
    definitions, or in a notebook that is not the series' own (the grader grades that one)."""
    notes = []
    for name in names:
        notebook, source = chosen[name]
        notes.append(f"{name}: from {notebook}")
        others = sorted({other for other, _ in everywhere[name]} - {notebook})
        if others:
            notes.append(f"  also defined in {', '.join(others)}: that definition is not used.")
        if STUB in source:
            notes.append(f"  It is still the released stub: write it in {notebook}, save that notebook (Ctrl+S), "
                         "then re-run this cell.")
        want = released.get(name)
        if want and notebook != want:
            notes.append(f"  The series calls this notebook {want}, and {want} "
                         + ("is missing" if not (Path(folder) / want).exists() else "does not define it")
                         + f": rename {notebook} back to {want} before you submit.")
    return notes


def load_functions(*names, folder=".", quiet=False):
    """Load your answers from the notebooks in `folder`, without running them.

    Finds the answer cells that define the functions `names` (see answer_cells), runs
    those cells in one fresh namespace (with numpy as ``np`` and this module's helpers),
    and returns the functions in the order asked. So notebook 2 can call the
    ``rnn_cell_forward`` you wrote in notebook 1:
    ``rnn_cell_forward, = load_functions("rnn_cell_forward")``.
    Prints where each function came from, and what to fix when it is the released stub or
    comes from another notebook than the series' own (`quiet`: print nothing).
    """
    if not Path(folder).is_dir():
        return _from_missing_folder(names, folder)
    namespace = {"np": np, "__name__": "rnn_answers"}
    namespace.update({name: globals()[name] for name in __all__})
    everywhere, released = _definitions(names, folder), _released_notebooks(folder)  # each notebook read once
    chosen = _chosen(names, folder, everywhere, released)
    done = set()
    for name, (notebook, source) in chosen.items():
        if source not in done:  # a cell defining several of the names runs once
            filename = f"{notebook}:{name}"
            # As IPython does for a cell's code: a traceback then shows the line of the notebook.
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(source, filename, "exec"), namespace)
            done.add(source)
    if not quiet:
        print("\n".join(_loading_notes(names, folder, chosen, everywhere, released)))
    return tuple(namespace[name] for name in names)


GRADING_ENV = "AUTOGRADER_REQUESTS"  # set in the kernel while the grader runs a notebook (autograder/probe.py)


def _from_missing_folder(names, folder):
    """load_functions from a folder that is not there: another assignment's, which the grader
    does not have (a notebook is submitted alone). While grading, the tests call the reference
    versions of `names`, and stand-ins saying so are returned; else the student is told where
    the folder should be."""
    where = Path(folder)
    if not os.environ.get(GRADING_ENV):
        raise FileNotFoundError(
            f"This notebook calls your {', '.join(names)} from the folder {where}, which is not here "
            f"({where.resolve()}): put your folder {where.name} (the assignment you wrote them in) beside this "
            "notebook's folder, then run this cell again.")
    print(f"While your work is graded, the tests call the reference {', '.join(names)}: your folder {where.name} "
          "is not submitted with this notebook.")

    def stand_in(name):
        def not_loaded(*args, **kwargs):
            raise NameError(f"{name} is not loaded: the folder {where} is not here.")
        not_loaded.__name__ = name
        return not_loaded
    return tuple(stand_in(name) for name in names)
