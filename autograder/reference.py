"""The reference answers, taken from the one place they live: the solution cells of source/.

Nothing else in the repository holds a copy of a solution. Whatever needs the
reference (hidden tests, the expected outputs of the visible tests, the answer
key) calls `load()`, which runs the source notebooks' answer cells with the
same loader the students' notebooks use (`rnn_utils.load_functions`).
"""

import json
import sys
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_step_by_step"
SOURCE = ROOT / "source" / ASSIGNMENT


def _rnn_utils():
    # Imported lazily and from ROOT so that the reference never runs with a
    # student's (possibly edited) copy of rnn_utils.py from the working folder.
    import importlib.util
    spec = importlib.util.spec_from_file_location("_reference_rnn_utils", ROOT / "rnn_utils.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as import does: rnn_checks.py, beside it, finds it there
    spec.loader.exec_module(module)
    return module


rnn_utils = _rnn_utils()
FUNCTIONS = tuple(rnn_utils.EXERCISES)  # the graded functions, as rnn_utils declares them


@lru_cache(maxsize=None)
def load(source=SOURCE):
    """The reference functions, as attributes of a namespace."""
    return SimpleNamespace(**dict(zip(FUNCTIONS, rnn_utils.load_functions(*FUNCTIONS, folder=source, quiet=True))))


def sources(names, source=SOURCE):
    """{name: source of the solution cell defining it}, for the probe to run in a student's kernel."""
    return {name: cell for name, (_, cell) in rnn_utils.answer_cells(*names, folder=source).items()}


def visible_expected(ref=None):
    """What the visible tests compare with, per exercise: the reference outputs on each of
    rnn_utils.EXAMPLES, and the outputs of each known mistake there (None where it raises),
    with its name and hint, so the notebook can name a student's mistake without an answer."""
    from . import mistakes  # it builds on this module
    ref = ref or load()
    feeders = {part: getattr(ref, feeder) for part, feeder in rnn_utils.FEEDERS.items()}
    examples = {name: rnn_utils.example_inputs(**kwargs) for name, kwargs in rnn_utils.EXAMPLES.items()}

    def on_examples(function, part):
        return {name: mistakes.behaviour(lambda: _plain(rnn_utils.exercise_outputs(
                    part, function(*rnn_utils.exercise_arguments(part, ex, feeders.get(part))))))
                for name, ex in examples.items()}

    data = {"input_mutated": {"name": mistakes.INPUT_MUTATED.name, "hint": mistakes.INPUT_MUTATED.hint}}
    notebooks = rnn_utils.answer_cells(*FUNCTIONS, folder=SOURCE)
    for part in FUNCTIONS:
        data[part] = {
            "notebook": notebooks[part][0],  # where load_functions should find it
            "reference": on_examples(getattr(ref, part), part),
            "mistakes": [{"id": mistake.id, "name": mistake.name, "hint": mistake.hint,
                          "stability": mistake.stability, "outputs": on_examples(wrong, part)}
                         for mistake, wrong in mistakes.candidates(part)],
        }
    for part in rnn_utils.CELLS:  # a sequence's caches, step by step (the parameters are the input's)
        data[part]["caches"] = {
            name: [_plain({key: value for key, value in step.items() if key != "parameters"})
                   for step in rnn_utils.step_caches(part, getattr(ref, part)(*rnn_utils.exercise_arguments(part, ex)))]
            for name, ex in examples.items()}
    return data


def _plain(outputs):
    """{name: nested lists of floats with 9 significant digits} (the tests compare to 1e-4)."""
    def rounded(value):
        array = np.asarray(value, dtype=np.float64)
        return np.array([float(f"{v:.9g}") for v in array.ravel()]).reshape(array.shape).tolist()
    return {key: rounded(value) for key, value in outputs.items()}


def _dumps(value, indent=0):
    """JSON with one line per array (a file diff then shows which arrays changed)."""
    if isinstance(value, dict) and value:
        inner = " " * (indent + 1)
        items = [f"{inner}{json.dumps(key)}: {_dumps(value[key], indent + 1)}" for key in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        inner = " " * (indent + 1)
        return "[\n" + ",\n".join(inner + _dumps(v, indent + 1) for v in value) + "\n" + " " * indent + "]"
    return json.dumps(value)


def write_visible_expected(path):
    """Write visible_expected.json (stable text: sorted keys; NaN where a mistake gives it)."""
    Path(path).write_text(_dumps(visible_expected()) + "\n")
