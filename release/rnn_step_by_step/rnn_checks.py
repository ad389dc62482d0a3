"""The visible tests of the notebooks (rnn_utils.check_..., which reaches them here), and
what an exercise is (Exercise). Each assignment declares its exercises in exercises.py,
beside its notebooks.

A test runs your function on the EXAMPLES, compares its outputs (and a forward pass's cache)
with the reference's outputs stored in visible_expected.json, and says what is wrong: the
entry most off, the known mistake your outputs match, or how they relate to the right ones.
The grader's hidden tests use the same declarations and checks on inputs you do not see.
rnn_utils sets `rnn_utils` (that module) and `folder` (the notebooks') before this one runs.
"""

import copy
import inspect
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

rnn_utils = globals().get("rnn_utils")  # given by rnn_utils._checks()
EXPECTED_FILE, _parsed = rnn_utils.EXPECTED_FILE, rnn_utils._parsed
relations = rnn_utils._beside("rnn_relations")  # names how a wrong output relates to the right one

@dataclass(frozen=True)
class Exercise:
    """One graded function, declared once: everything the visible tests, the hidden tests,
    the named mistakes and the report know of it comes from here.

    A forward pass returns `returns` (its cache last, if it has one); a backward pass (`forward` set) takes
    upstream gradients and its forward pass's cache, and returns a dict of gradients."""
    name: str
    written_in: str             # where the student writes it, as "fix ... first" says it
    arguments: tuple            # its parameters, in order
    judged: tuple               # the outputs it is graded on (a backward pass: gradients of its
                                # forward pass's inputs first, in their order; an LSTM cell's gates come from its cache)
    inputs: Callable            # inputs(example) -> its arguments on an example of example_inputs
                                # (a backward pass: the upstream gradients; its forward pass's cache follows)
    shown: tuple                # the (output, index) entries its values test prints on the first example
    returns: tuple = ()         # a forward pass: what it returns, in order
    cache: tuple = ()           # a cell: what its cache holds, in order (a sequence's: (list of its cell's caches, x))
    carried: tuple = ()         # a forward pass: the outputs its backward pass reads through the cache
    cell: str = ""              # a sequence: the cell it calls at every step
    forward: str = ""           # a backward pass: the forward pass whose cache it reads
    calls: tuple = ()           # the graded functions it calls (graded against their reference versions)

    @property
    def cached(self):
        """Whether its last return value is a cache (a cell's, or a sequence's list of them)."""
        return bool(self.cache or self.cell)


def _declared(folder):
    """The exercises' declarations: exercises.py in `folder` (beside the notebooks), run with
    `Exercise` and `rnn_utils` given."""
    path = Path(folder) / "exercises.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: it declares the exercises, and ships beside the notebooks.")
    namespace = {"Exercise": Exercise, "rnn_utils": rnn_utils, "__name__": "exercises", "__file__": str(path)}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace


declared = _declared(globals().get("folder", "."))  # `folder` given by rnn_utils._checks()
EXERCISES, EXAMPLES, example_inputs = declared["EXERCISES"], declared["EXAMPLES"], declared["example_inputs"]
FIRST = next(iter(EXAMPLES))    # the example whose values a test prints
# Every argument of example_inputs with its default: an example or a hidden case fills the rest from these.
EXAMPLE_DEFAULTS = {name: p.default for name, p in inspect.signature(example_inputs).parameters.items()
                    if p.default is not inspect.Parameter.empty}
LARGE_SCORES = declared.get("LARGE_SCORES")  # the example a numerically unstable answer fails on, if any

# What the tests look up, derived from the declarations.
ARGUMENTS = {name: e.arguments for name, e in EXERCISES.items()}
RESULTS = {name: e.returns for name, e in EXERCISES.items() if e.returns}
CACHE_LAYOUTS = {name: e.cache for name, e in EXERCISES.items() if e.cache}
OUTPUTS = {name: e.judged for name, e in EXERCISES.items()}
FEEDERS = {name: e.forward for name, e in EXERCISES.items() if e.forward}
CARRIED = {name: e.carried for name, e in EXERCISES.items() if e.carried}
CELLS = {name: e.cell for name, e in EXERCISES.items() if e.cell}
WRITTEN_IN = {name: e.written_in for name, e in EXERCISES.items()}
RTOL, ATOL = 1e-4, 1e-6
# What a cell computes and keeps in its cache: a cache entry equal to one of these, of the same
# step, was written after the cache kept it.
RESULTS_OF_CELL = {key for e in EXERCISES.values() if e.cache for key in e.returns if key in e.cache}


class TestFailure(AssertionError):
    """A visible test's verdict. IPython (the notebook, nbgrader's Validate dialog) shows what
    _render_traceback_ returns instead of a traceback: the message alone, not the frames of
    this module, which say nothing about the student's code."""

    def _render_traceback_(self):
        return _wrapped(f"AssertionError: {self}")


class EarlierNotebookError(TestFailure):
    """The function under test is fed by one from an earlier notebook (or exercise) that is wrong."""


class KnownMistake(TestFailure):
    """A failure whose message already names the student's mistake."""


class NotImplementedYet(NotImplementedError):
    """A function (or one it calls) is still the released stub."""

    def _render_traceback_(self):
        return _wrapped(f"NotImplementedError: {self}")


def _wrapped(text, width=80):
    """`text` as lines of at most `width` characters: nbgrader's Validate cuts longer lines
    (at 87), which hid the hint at the end of a message."""
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [text]


# The names students, nbgrader and the feedback read (a cell's error output carries the class's
# __name__): the exceptions they know, not this module's classes.
for _failure in (TestFailure, EarlierNotebookError, KnownMistake):
    _failure.__name__ = "AssertionError"
NotImplementedYet.__name__ = "NotImplementedError"


def _data():
    path = Path(declared["__file__"]).with_name(EXPECTED_FILE)
    if not path.exists():
        raise FileNotFoundError(
            f"{EXPECTED_FILE} is missing: it ships beside the notebooks; copy it back from the release.")
    return _parsed(str(path.resolve()), path.stat().st_mtime_ns)


def _arrays(values):
    return None if values is None else {key: np.array(value, dtype=np.float64) for key, value in values.items()}


def _expected(part, example=FIRST):
    """The reference outputs of one exercise on one of the EXAMPLES."""
    return _arrays(_data()[part]["reference"][example])


def _upstream(part, ex):
    """The upstream gradients the backward pass `part` gets on example `ex`."""
    return tuple(EXERCISES[part].inputs(ex))


def exercise_arguments(part, ex, forward=None):
    """The arguments the exercise `part` is tested with on example `ex` (a dict of
    example_inputs); a backward pass gets the cache of `forward` (its forward function)."""
    arguments = tuple(EXERCISES[part].inputs(ex))
    if part in FEEDERS:
        return arguments + (_call(forward, *exercise_arguments(FEEDERS[part], ex))[-1],)
    return arguments


def exercise_outputs(part, result):
    """{output name: value} of what the exercise `part` returned (an LSTM cell's gates come
    from its cache); AssertionError saying what is asked for when the structure is wrong."""
    if part in RESULTS:
        names = RESULTS[part]
        assert isinstance(result, tuple) and len(result) == len(names), \
            f"{part} must return a tuple ({', '.join(names)})."
        outputs = {}
        for name, value in zip(names[:-1], result[:-1]) if EXERCISES[part].cached else zip(names, result):
            outputs.update(flattened(name, value))
        in_cache = [key for key in OUTPUTS[part] if key not in outputs]
        if in_cache and part in CACHE_LAYOUTS:
            layout, cache = CACHE_LAYOUTS[part], result[-1]
            assert isinstance(cache, tuple) and len(cache) == len(layout), \
                f"{part}'s cache must be the tuple ({', '.join(layout)})."
            outputs.update({key: cache[layout.index(key)] for key in in_cache})
        else:
            assert not in_cache, f"{part} returns no {', '.join(in_cache)}."
        return {key: outputs[key] for key in OUTPUTS[part]}
    assert isinstance(result, dict), f"{part} must return a dict of gradients, got {type(result).__name__}."
    missing = [key for key in OUTPUTS[part] if key not in result]
    assert not missing, f"{part}'s gradients lack the key(s) {', '.join(missing)}."
    return {key: result[key] for key in OUTPUTS[part]}


def flattened(name, value):
    """{name: value}; a dict (parameters, an optimiser's state) gives one entry per value in it,
    named as code reads it: parameters["Wax"], adam["m"]["Wax"]."""
    if isinstance(value, dict):
        return {key: item for k, v in value.items() for key, item in flattened(f'{name}["{k}"]', v).items()}
    return {name: value}


def _kind(value):
    """Words for what a value is, to say what was found instead of what was asked for."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def same_value(a, b):
    """Whether `a` equals `b` within the tests' tolerance: arrays (any float dtype: a float32
    copy of an input is still that input), and dicts of them such as `parameters`."""
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in b)
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == np.shape(b) and bool(np.allclose(a, b, RTOL, ATOL, equal_nan=True))


def cache_problem(part, args, result, where=""):
    """None when the cache the forward pass `part` returned (with `result`, called on `args`)
    holds what its backward pass reads, in the right places; else what is wrong with it
    (`where` names the input, before the full stop). A sequence's caches are checked for
    their structure here, and for every step's values by cache_values_problem."""
    cache = result[-1]
    if part in CACHE_LAYOUTS:
        known = {**dict(zip(RESULTS[part], result)), **dict(zip(ARGUMENTS[part], args))}
        return _cell_cache_problem(part, cache, known, where)
    T_x, cell = np.shape(args[0])[2], CELLS[part]
    if not (isinstance(cache, tuple) and len(cache) == 2):
        return f"{part}'s caches must be the tuple (list_of_caches, x){where}; it is {_kind(cache)}."
    layout = CACHE_LAYOUTS[cell]
    wanted = f"{part}'s caches[0] must be a list of the caches of {cell}, one per time step ({T_x}){where}"
    if isinstance(cache[0], tuple) and len(cache[0]) == len(layout) and isinstance(cache[0][0], np.ndarray):
        return f"{wanted}; it is one step's cache (append each step's cache to the list)."
    if not (isinstance(cache[0], (list, tuple)) and len(cache[0]) == T_x):
        return f"{wanted}; it is {_kind(cache[0])}."
    if not same_value(cache[1], args[0]):
        return f"{part}'s caches[1] must be the input x{where}."
    for t, step in enumerate(cache[0]):
        if not (isinstance(step, tuple) and len(step) == len(layout)):
            return (f"{part}'s caches[0][{t}] must be the cache {cell} returned at step {t}, "
                    f"the tuple ({', '.join(layout)}){where}; it is {_kind(step)}.")
    return None


def _cell_cache_problem(part, cache, known, where):
    layout = CACHE_LAYOUTS[part]
    order = f"{part}'s cache must be the tuple ({', '.join(layout)}), in that order"
    if not (isinstance(cache, tuple) and len(cache) == len(layout)):
        return f"{order}{where}; it is {_kind(cache)}."
    for i, (key, value) in enumerate(zip(layout, cache)):
        if key in known and not same_value(value, known[key]):
            other = next((k for k in layout if k != key and k in known and same_value(value, known[k])), None)
            return f"{order}{where}: entry {i} should be {key}, " + \
                (f"but it holds {other}." if other else "but it holds another value.")
    return None


def step_caches(part, result):
    """[{entry: value}] of each step's cache in the caches of the sequence forward pass `part`."""
    return [dict(zip(CACHE_LAYOUTS[CELLS[part]], step)) for step in result[-1][0]]


def cache_values_problem(part, caches, expected, where=""):
    """None when every step's cache of a sequence forward pass (`caches`, [{entry: value}] per
    step, whose structure cache_problem accepted) holds the values of `expected` (the same for
    the reference); else the first step and entry that differ. The outputs can be right while
    a cache is wrong, and the backward pass reads the caches."""
    for t, (step, want) in enumerate(zip(caches, expected)):
        for key, value in want.items():
            if not same_value(step[key], value):
                return (f"{part}'s caches[0][{t}] (the cache of step {t}) holds a wrong {key}{where}."
                        + _cache_hint(t, key, step[key], expected))
    return None


def _cache_hint(t, key, value, expected):
    """Why a step's cache entry is wrong, when it holds another step's (or entry's) value."""
    for s, want in enumerate(expected):
        for other, array in want.items():
            if (s, other) == (t, key) or other == "parameters" or not same_value(value, array):
                continue
            if s > t or other in RESULTS_OF_CELL:
                return (f" It holds step {s}'s {other}: the cache kept a view of an array written afterwards "
                        "(a slice such as c[:, :, t] is a view); keep the arrays the cell returned, or a copy.")
            return f" It holds step {s}'s {other}: each step's cache must keep the values of that step."
    return ""


def outputs_match(got, want):
    """Whether two {name: array} are equal within tolerance (NaN equal to NaN, shapes equal);
    None stands for "raised an error" and matches only None."""
    if got is None or want is None:
        return got is None and want is None
    return same_value(got, want)


def _fed_arguments(part, example, forward=None):
    """The arguments of exercise `part` on one of the EXAMPLES. A backward pass gets the
    cache of your forward pass, whose values are checked first: if they are wrong, the
    mistake is in the earlier exercise, and this test says so instead of blaming this one."""
    __tracebackhide__ = True
    ex = example_inputs(**EXAMPLES[example])
    feeder = FEEDERS.get(part)
    if not feeder:
        return exercise_arguments(part, ex)
    args = exercise_arguments(feeder, ex)
    result = _call(forward, *args)
    try:
        got = exercise_outputs(feeder, result)
    except AssertionError:
        got = None
    expected = _expected(feeder, example)
    place = WRITTEN_IN[feeder]
    if not outputs_match(got and {key: got[key] for key in CARRIED[feeder]},
                         {key: expected[key] for key in CARRIED[feeder]}):
        raise EarlierNotebookError(f"{feeder} (from {place}) gives wrong values on {example}, so its "
                                   f"cache is wrong: fix {place} first.")
    problem = _cache_failure(feeder, args, result, example)
    if problem:
        raise EarlierNotebookError(f"{problem} Fix {place} first: {part} reads that cache.")
    return _upstream(part, ex) + (result[-1],)  # the cache just checked: no second forward pass


def _expected_caches(part, example, args):
    """The reference's caches of the sequence forward pass `part` on `example`, per step
    (visible_expected.json holds every entry but the parameters, which are the input's)."""
    return [dict(_arrays(step), parameters=args[-1]) for step in _data()[part]["caches"][example]]


def _where(example):
    """How a message names the example (the printed one goes without saying)."""
    return "" if example == FIRST else f" on {example}"


def _cache_failure(part, args, result, example):
    """What is wrong with the cache a forward pass returned on `example`, or None."""
    where = _where(example)
    problem = cache_problem(part, args, result, where)
    if problem is None and part in CELLS:
        problem = cache_values_problem(part, step_caches(part, result), _expected_caches(part, example, args), where)
    return problem


def _runner(part, function, forward=None):
    """run(example name) -> the outputs of your `function` on that example."""
    def run(example):
        __tracebackhide__ = True
        return exercise_outputs(part, _call(function, *_fed_arguments(part, example, forward)))
    return run


def known_mistake(part, seen, mistakes, large=LARGE_SCORES):
    """The "Known mistake: ..." sentence of the first mistake whose outputs equal `seen`
    ({example: outputs, or None where it raised}) on every example it is judged on, or None.
    Mistakes of numerical stability are judged on `large` too; the others are not. Outputs
    name a mistake; errors alone never do (a typo raises where a mistake may raise too)."""
    for mistake in mistakes:
        judged = [name for name in seen if mistake["stability"] or name != large]
        if all(seen[name] is None for name in judged):
            continue
        if all(outputs_match(seen[name], mistake["outputs"][name]) for name in judged):
            return f"Known mistake: {mistake['name']}. {mistake['hint']}"
    return None


def _seen(run):
    """{example: the outputs of `run` there, or None where it raised}."""
    seen = {}
    for example in EXAMPLES:
        try:
            with np.errstate(all="ignore"):
                seen[example] = run(example)
        except Exception:  # a mistake may raise where the student's code does (a shape mismatch)
            seen[example] = None
    return seen


def _diagnose(part, seen):
    mistakes = [dict(m, outputs={k: _arrays(v) for k, v in m["outputs"].items()})
                for m in _data()[part]["mistakes"]]
    return known_mistake(part, seen, mistakes)


def _relation(part, seen):
    """How the outputs `seen` relate to the reference's on the first example where they
    differ (transposed, a factor m, a step late...), or None."""
    for example, got in seen.items():
        if got is None:
            continue
        case = {**EXAMPLE_DEFAULTS, **EXAMPLES[example]}
        sentence = relations.relation(got, _expected(part, example), label=lambda key: _label(part, key),
                                      m=case["m"], T_x=case["T_x"], rtol=RTOL, atol=ATOL)
        if sentence:
            return sentence
    return None


def _raised_here(error):
    """Whether `error` was raised by this module (a test's verdict), not by the student's code."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].filename == __file__


def student_line(error):
    """'line N: <code>' of the last frame of `error`'s traceback in the student's code (not in
    this module, numpy or Python's own), or ''."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        name = frame.filename.replace("\\", "/")
        if frame.filename not in (__file__, rnn_utils.__file__) and "/numpy/" not in name \
                and "/lib/python" not in name and frame.line:
            return f"line {frame.lineno}: {frame.line.strip()}"
    return ""


SHAPES_HINT = ("Write each array's shape beside that line: * multiplies entry by entry (the shapes must match "
               "or broadcast), @ multiplies matrices ((a, b) @ (b, c) gives (a, c)).")


def _shape_error(error):
    """Whether `error` is numpy's complaint about the shapes of an operation."""
    return isinstance(error, ValueError) and any(
        words in str(error) for words in ("broadcast", "matmul", "not aligned", "shapes"))


def _callee_problem(part, function):
    """When a sequence forward pass fails: what is wrong with the cell it calls (your answer to
    the earlier exercise), if that cell fails on the first example; else None."""
    cell_name = CELLS.get(part)
    cell = getattr(function, "__globals__", {}).get(cell_name)
    if not callable(cell):
        return None
    try:
        with np.errstate(all="ignore"):
            got = exercise_outputs(cell_name, _call(cell, *exercise_arguments(cell_name, example_inputs())))
        if outputs_match(got, _expected(cell_name)):
            return None
    except Exception:
        pass
    place = WRITTEN_IN[cell_name]
    return f"{part} calls your {cell_name} (from {place}), which fails its own tests: fix {place} first."


def _judged(part, run, test, function=None):
    """Run the visible test `test`; a failure becomes one message: the test's verdict (naming
    the known mistake the outputs come from, if any). An error of the student's own code
    propagates as it is (the student's line in its traceback, this module's frames hidden),
    unless the outputs elsewhere name the mistake that makes it."""
    __tracebackhide__ = True
    try:
        return test()
    except (NotImplementedError, TestFailure):
        raise
    except Exception as failure:
        verdict = isinstance(failure, AssertionError) and _raised_here(failure)
        seen = _seen(run)
        hint = _diagnose(part, seen) or _callee_problem(part, function)
        if verdict and hint is None:
            hint = _relation(part, seen)
        if verdict:
            raise TestFailure(f"{failure} {hint}" if hint else str(failure)) from None
        if hint is None and not _shape_error(failure):
            raise
        line = student_line(failure)
        raise KnownMistake(f"{part} raised {type(failure).__name__}: {failure}"
                           + (f" ({line})" if line else "") + f". {hint or SHAPES_HINT}") from None


def _index_text(index):
    """How code writes an entry's index: [1][2] (integers), [:, 0] (a column)."""
    if any(isinstance(i, slice) for i in index):
        return "[" + ", ".join(":" if isinstance(i, slice) else str(i) for i in index) + "]"
    return "".join(f"[{i}]" for i in index)


def _show(label, array):
    """Print a labelled array with 6 decimals (integers as they are: sampled indices), so outputs
    compare as text."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.integer):
        text = np.array2string(array, max_line_width=100)
    else:
        text = np.array2string(array.astype(np.float64), precision=6, suppress_small=True, floatmode="fixed",
                               max_line_width=100)
    print(f"{label} =\n{text}" if "\n" in text else f"{label} = {text}")


def _call(function, *args):
    """Call a student's function; say which notebook to finish when a part is a stub."""
    __tracebackhide__ = True
    try:
        return function(*args)
    except NotImplementedError:
        raise NotImplementedYet(
            f"{getattr(function, '__name__', function)} (or a function it calls from an earlier "
            "notebook) is not implemented yet: write the answer cell, run it, then re-run this test."
        ) from None


def _check_tuple(result, name, names):
    __tracebackhide__ = True
    assert isinstance(result, tuple) and len(result) == len(names), (
        f"{name} must return a tuple of {len(names)} values ({', '.join(names)}), "
        f"got {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, tuple) else ""))


def _check_shape(value, label, shape):
    __tracebackhide__ = True
    got = np.shape(value)
    assert got == tuple(shape), f"{label} has shape {got}, expected {tuple(shape)}."


def largest_error_index(value, expected):
    """The index of the entry of `value` farthest from `expected` (a NaN counts as farthest)."""
    difference = np.where(np.isnan(value), np.inf, np.abs(value - expected))
    return tuple(int(i) for i in np.unravel_index(np.argmax(difference), np.shape(expected)))


def _check_values(value, label, expected, where=""):
    __tracebackhide__ = True
    _check_shape(value, label, expected.shape)
    value = np.asarray(value, dtype=np.float64)
    if not np.allclose(value, expected, rtol=RTOL, atol=ATOL, equal_nan=False):
        if value.ndim == 0:  # a number (a loss)
            raise AssertionError(f"Wrong value of {label}{where}: you have {value:.6f}, expected {expected:.6f}.")
        index = largest_error_index(value, expected)
        raise AssertionError(
            f"Wrong values in {label}{where}: at index {index} you have "
            f"{value[index]:.6f}, expected {expected[index]:.6f}.")


def _label(part, key):
    """How the tests name an output: gradients["dxt"], ft (in the cache), a_next."""
    if part not in RESULTS:  # it returns a dict of gradients
        return f'gradients["{key}"]'
    return f"{key} (in the cache)" if key not in RESULTS[part] and "[" not in key else key


def _check_example(part, function, forward, example, args=None, result=None):
    """Compare every output (and a forward pass's cache) of `function` on `example` with the
    reference's; `args` and `result`: the call already made (on the first example)."""
    __tracebackhide__ = True
    if args is None:
        args = list(_fed_arguments(part, example, forward))
        result = _call(function, *args)
    if part in RESULTS:
        _check_tuple(result, part, RESULTS[part])
    got, expected = exercise_outputs(part, result), _expected(part, example)
    for key in OUTPUTS[part]:
        _check_values(got[key], _label(part, key), expected[key], where=_where(example))
    if EXERCISES[part].cached:
        problem = _cache_failure(part, args, result, example)
        assert problem is None, problem
    return got


def same_structure(a, b):
    """Deep equality of nested tuples, lists and dicts of arrays (to see a mutated input)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_structure, a, b))
    return a == b


def _called(function, part, args):
    """function(*args), checking it leaves its arguments as they came."""
    __tracebackhide__ = True
    before = copy.deepcopy(args)
    result = _call(function, *args)
    for name, old, new in zip(ARGUMENTS[part], before, args):
        if not same_structure(old, new):
            mistake = _data()["input_mutated"]
            raise KnownMistake(f"{part} changed its argument {name} in place. "
                               f"Known mistake: {mistake['name']}. {mistake['hint']}")
    return result


def _print_shapes(label, value):
    """Print a returned value's shape; a dict of arrays on one line, "name (shape)" each."""
    if isinstance(value, dict) and value and not any(isinstance(item, dict) for item in value.values()):
        print(f"{label} shapes: " + ", ".join(f"{key} {np.shape(item)}" for key, item in value.items()))
    elif isinstance(value, dict):
        for key, item in value.items():
            _print_shapes(f'{label}["{key}"]', item)
    else:
        print(f"{label}.shape =", np.shape(value))


def _forward_shapes(part, function):
    """Visible shapes test of a forward pass: its outputs' shapes and its cache's layout."""
    __tracebackhide__ = True

    def test():
        __tracebackhide__ = True
        args = exercise_arguments(part, example_inputs())
        result = _call(function, *args)
        _check_tuple(result, part, RESULTS[part])
        outputs = exercise_outputs(part, result)
        for key, expected in _expected(part).items():
            _check_shape(outputs[key], _label(part, key), expected.shape)
        if EXERCISES[part].cached:
            problem = cache_problem(part, args, result)
            assert problem is None, problem
        return result
    result = _judged(part, _runner(part, function), test, function)
    cached = EXERCISES[part].cached
    for key, value in zip(RESULTS[part][:-1] if cached else RESULTS[part], result):
        _print_shapes(key, value)
    if part in CELLS:
        print("len(caches[0]) =", len(result[-1][0]))
    print("All shape tests passed.")


def _values_test(part, function, forward, shown):
    """Visible values test: print the entries `shown` ((output, index) pairs) on the first
    example, then compare every output (and a forward pass's cache) on every example. A backward
    pass (`forward` given) runs on the cache of your forward pass."""
    __tracebackhide__ = True

    def test():
        __tracebackhide__ = True
        args = list(_fed_arguments(part, FIRST, forward))
        result = _called(function, part, args)
        if part in RESULTS:
            _check_tuple(result, part, RESULTS[part])
        outputs = exercise_outputs(part, result)
        for key, expected in _expected(part).items():  # before printing entries that may not exist
            _check_shape(outputs[key], _label(part, key), expected.shape)
        for key, index in shown:
            _show(_label(part, key) + _index_text(index), np.asarray(outputs[key])[index])
        for example in EXAMPLES:
            _check_example(part, function, forward, example, *((args, result) if example == FIRST else ()))
    _judged(part, _runner(part, function, forward), test, function)
    print("All value tests passed.")


def _backward_shapes(part, function, forward):
    """Visible shapes test of a backward pass, on the cache of your forward pass."""
    __tracebackhide__ = True

    def test():
        __tracebackhide__ = True
        gradients = exercise_outputs(part, _call(function, *_fed_arguments(part, FIRST, forward)))
        for key, expected in _expected(part).items():
            _check_shape(gradients[key], _label(part, key), expected.shape)
        return gradients
    gradients = _judged(part, _runner(part, function, forward), test)
    for key in OUTPUTS[part]:
        print(f'gradients["{key}"].shape =', np.shape(gradients[key]))
    print("All shape tests passed.")


def _visible_test(exercise, kind):
    """The visible test `kind` ("shapes" or "values") of `exercise`, as the test cells call it:
    check_<name>_<kind>(function), or (function, forward) for a backward pass."""
    part, shown = exercise.name, exercise.shown
    if exercise.forward:
        def check(function, forward):
            __tracebackhide__ = True
            if kind == "shapes":
                _backward_shapes(part, function, forward)
            else:
                _values_test(part, function, forward, shown)
    else:
        def check(function):
            __tracebackhide__ = True
            if kind == "shapes" and not exercise.returns:  # a dict of gradients, as a backward pass's
                _backward_shapes(part, function, None)
            elif kind == "shapes":
                _forward_shapes(part, function)
            else:
                _values_test(part, function, None, shown)
    check.__name__ = check.__qualname__ = f"check_{part}_{kind}"
    check.__doc__ = (f"Visible test: {'keys and shapes' if kind == 'shapes' else 'values'} of {part}'s "
                     f"{'outputs and cache' if exercise.cached else 'outputs' if exercise.returns else 'gradients'} on the examples.")
    return check


globals().update({f"check_{name}_{kind}": _visible_test(exercise, kind)
                  for name, exercise in EXERCISES.items() for kind in ("shapes", "values")})
