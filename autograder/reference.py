"""The reference answers, taken from the one place they live: the solution cells of source/.

Nothing else in the repository holds a copy of a solution. Whatever needs the
reference (hidden tests, the expected outputs of the visible tests, the answer
key) calls `load()`, which runs the source notebooks' answer cells with the
same loader the students' notebooks use (`rnn_utils.load_functions`).
"""

import json
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_step_by_step"
SOURCE = ROOT / "source" / ASSIGNMENT
FUNCTIONS = ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward")


def _rnn_utils():
    # Imported lazily and from ROOT so that the reference never runs with a
    # student's (possibly edited) copy of rnn_utils.py from the working folder.
    import importlib.util
    spec = importlib.util.spec_from_file_location("_reference_rnn_utils", ROOT / "rnn_utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rnn_utils = _rnn_utils()


@lru_cache(maxsize=None)
def load(source=SOURCE):
    """The reference functions, as attributes of a namespace."""
    return SimpleNamespace(**dict(zip(FUNCTIONS, rnn_utils.load_functions(*FUNCTIONS, folder=source))))


def sources(names, source=SOURCE):
    """{name: source of the solution cell defining it}, for the probe to run in a student's kernel."""
    return {name: cell for name, (_, cell) in rnn_utils.answer_cells(*names, folder=source).items()}


def visible_expected(ref=None):
    """Reference outputs on rnn_utils.example_inputs(), one entry per exercise."""
    ref = ref or load()
    ex = rnn_utils.example_inputs()
    x, a0, da, parameters = ex["x"], ex["a0"], ex["da"], ex["parameters"]
    a_next, yt_pred, cache = ref.rnn_cell_forward(x[:, :, 0], a0, parameters)
    a, y_pred, caches = ref.rnn_forward(x, a0, parameters)
    cell_gradients = ref.rnn_cell_backward(da[:, :, 0], cache)
    gradients = ref.rnn_backward(da, caches)
    parts = {
        "rnn_cell_forward": {"a_next": a_next, "yt_pred": yt_pred},
        "rnn_forward": {"a": a, "y_pred": y_pred},
        "rnn_cell_backward": {key: cell_gradients[key] for key in rnn_utils.GRADIENT_KEYS_CELL},
        "rnn_backward": {key: gradients[key] for key in rnn_utils.GRADIENT_KEYS},
    }
    return {part: {key: np.asarray(value).tolist() for key, value in values.items()}
            for part, values in parts.items()}


def write_visible_expected(path):
    """Write visible_expected.json (stable text: sorted keys, repr floats)."""
    Path(path).write_text(json.dumps(visible_expected(), indent=1, sort_keys=True) + "\n")
