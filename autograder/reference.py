"""The course's assignments, and each one's reference answers, taken from the one place they
live: the solution cells of source/<assignment>/.

An assignment is a folder of source notebooks (nbgrader's format) with, beside them:
- exercises.py: what each graded function is (autograder/../rnn_checks.py's Exercise), read
  by the visible tests in the notebook and by the grader alike; it ships to students;
- grading.py (optional, never released): what only the grader knows: the hidden cases,
  how a message names one, and the named mistakes (autograder/mistakes.py);
- rnn_utils.py (optional: else the course's own), the helpers its notebooks import.

Nothing else in the repository holds a copy of a solution, or a list of an assignment's
functions. Whatever needs the reference (hidden tests, the expected outputs of the visible
tests, the answer key) calls `Assignment.load()`, which runs the source notebooks' answer
cells with the loader the students' notebooks use (`rnn_utils.load_functions`).
"""

import importlib.util
import json
import sys
import zlib
from functools import cached_property, lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "source"
DECLARATIONS = "exercises.py"
GRADING = "grading.py"   # the grader's part: nbgrader does not release it (course.nbgrader_config)


def assignments(sources=SOURCES):
    """The names of the assignments in `sources`: its folders that hold notebooks, in name order."""
    return sorted(p.name for p in Path(sources).iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
        if Path(sources).is_dir() else []


@lru_cache(maxsize=None)
def _of(source):
    return Assignment(source)


def of(source):
    """The Assignment whose source notebooks are in the folder `source` (one object per folder)."""
    return _of(str(Path(source).resolve()))


def named(name, sources=SOURCES):
    """The Assignment `name` of the course (source/<name>)."""
    return of(Path(sources) / name)


def _load_module(path, name, **given):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(given)
    sys.modules[spec.name] = module  # as import does: rnn_checks.py, beside it, finds it there
    spec.loader.exec_module(module)
    return module


class Assignment:
    """One assignment: its source folder, its declared exercises, what only the grader knows
    of it (grading.py), and its reference functions."""

    def __init__(self, source):
        self.source = Path(source)
        self.name = self.source.name

    def __repr__(self):
        return f"Assignment({str(self.source)!r})"

    @cached_property
    def utils(self):
        """The assignment's rnn_utils, loaded from its source folder (else the course's own), never
        a student's (possibly edited) copy from a working folder; its checks are the exercises
        declared in the source folder."""
        own = self.source / "rnn_utils.py"
        path = own if own.is_file() else ROOT / "rnn_utils.py"
        tag = zlib.crc32(str(self.source).encode())
        return _load_module(path, f"_reference_rnn_utils_{self.name}_{tag}", _DECLARED_IN=str(self.source))

    @cached_property
    def checks(self):
        """rnn_checks with this assignment's exercises: EXERCISES, EXAMPLES, the visible tests."""
        return self.utils._checks(self.source)

    @property
    def exercises(self):
        return self.checks.EXERCISES

    @cached_property
    def functions(self):
        """The graded functions, as exercises.py declares them."""
        return tuple(self.exercises)

    @cached_property
    def grading(self):
        """grading.py's names (HIDDEN_CASES, describe, MISTAKES), run with `rnn_utils` and `checks`
        given; the defaults where it is missing or silent."""
        namespace = {"__name__": f"grading_{self.name}", "rnn_utils": self.utils, "checks": self.checks}
        path = self.source / GRADING
        if path.is_file():
            namespace["__file__"] = str(path)
            exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
        # Without cases of its own, the visible examples' kinds (hidden.inputs moves every seed).
        namespace.setdefault("HIDDEN_CASES", tuple(self.checks.EXAMPLES.values()))
        namespace.setdefault("describe", describe_case)
        namespace.setdefault("MISTAKES", ())
        unknown = sorted({m.function for m in namespace["MISTAKES"]} - set(self.exercises))
        if unknown:
            raise LookupError(f"{path} declares mistakes of {', '.join(unknown)}, which exercises.py does not declare.")
        return SimpleNamespace(**namespace)

    @cached_property
    def hidden_cases(self):
        """The hidden cases, each with every argument of example_inputs (its defaults filled in)."""
        return tuple({**self.checks.EXAMPLE_DEFAULTS, **case} for case in self.grading.HIDDEN_CASES)

    @cached_property
    def large_hidden_case(self):
        """The index of the hidden case a numerically unstable answer fails on (None: no such case)."""
        return next((i for i, case in enumerate(self.hidden_cases) if case.get("output_scale", 1) > 1), None)

    def describe(self, case, function=None):
        """Words for a hidden case that say its kind, not its contents (grading.py's describe may
        take the function judged, to say only what its inputs are)."""
        import inspect
        if function is not None and len(inspect.signature(self.grading.describe).parameters) > 1:
            return self.grading.describe(case, function)
        return self.grading.describe(case)

    @property
    def mistakes(self):
        return tuple(self.grading.MISTAKES)

    @cached_property
    def earlier(self):
        """{function: the Assignment whose exercise it is}: the graded functions of earlier
        assignments that this one's exercises call (exercises.py's FROM_EARLIER_ASSIGNMENTS). A
        student's notebook loads their own; they are graded against the reference versions (in
        earlier_folder)."""
        found = {}
        for name, functions in self.checks.declared.get("FROM_EARLIER_ASSIGNMENTS", {}).items():
            other = of(self.earlier_folders[name])
            unknown = sorted(set(functions) - set(other.exercises))
            if unknown:
                raise LookupError(f"{self.source / DECLARATIONS} takes {', '.join(unknown)} from {name}, "
                                  "whose exercises.py does not declare them.")
            found.update(dict.fromkeys(functions, other))
        return found

    @cached_property
    def earlier_folders(self):
        """{name: source folder} of each earlier assignment FROM_EARLIER_ASSIGNMENTS names (earlier_folder),
        whether or not it declares what this one takes from it (`earlier` checks that)."""
        return {name: earlier_folder(self.source, name)
                for name in self.checks.declared.get("FROM_EARLIER_ASSIGNMENTS", {})}

    @cached_property
    def dependencies(self):
        """{function: the graded functions it calls or whose outputs its test uses (its forward
        pass's cache), and theirs}: it is graded against the reference versions of these."""
        def of_one(name):
            if name in self.earlier:  # an earlier assignment's: its oracle answers for all it calls
                return ()
            if name not in self.exercises:
                raise LookupError(f"{self.source / DECLARATIONS}: an exercise calls {name}, which neither it nor "
                                  "FROM_EARLIER_ASSIGNMENTS declares.")
            exercise = self.exercises[name]
            direct = exercise.calls + ((exercise.forward,) if exercise.forward else ())
            return tuple(dict.fromkeys(d for callee in direct for d in (*of_one(callee), callee)))
        return {name: of_one(name) for name in self.exercises}

    def load(self):
        """The reference functions, as attributes of a namespace."""
        return self._loaded

    @cached_property
    def _namespace(self):
        return self.namespace()

    @cached_property
    def _loaded(self):
        return SimpleNamespace(**{name: self._namespace[name] for name in self.functions})

    def reference(self, name):
        """The reference function `name`: an exercise of this assignment, or of an earlier one
        that its exercises call."""
        if name not in self.exercises and name not in self.earlier:
            raise KeyError(f"{name} is no exercise of {self.name} and none it calls")
        return self._namespace[name]

    def parameters(self, name):
        """The parameters of the graded function `name` (this assignment's, or an earlier one's)."""
        owner = self.earlier[name] if name in self.earlier else self
        return owner.exercises[name].arguments

    def namespace(self):
        """A fresh namespace of the reference functions, which call each other through it, with
        the earlier assignments' reference functions they call."""
        functions = self.utils.load_functions(*self.functions, folder=self.source, quiet=True)
        namespace = functions[0].__globals__
        namespace.update({name: _given(getattr(other.load(), name)) for name, other in self.earlier.items()})
        return namespace

    def sources(self, names):
        """{name: source of the solution cell defining it}."""
        return {name: cell for name, (_, cell) in self.utils.answer_cells(*names, folder=self.source).items()}

    def visible_expected(self):
        """What the visible tests compare with, per exercise: the reference outputs on each of
        the EXAMPLES, and the outputs of each known mistake there (None where it raises), with its
        name and hint, so the notebook can name a student's mistake without an answer."""
        from . import mistakes  # it builds on this module
        checks, ref = self.checks, self.load()
        feeders = {part: getattr(ref, feeder) for part, feeder in checks.FEEDERS.items()}
        examples = {name: checks.example_inputs(**kwargs) for name, kwargs in checks.EXAMPLES.items()}

        def on_examples(function, part):
            return {name: mistakes.behaviour(lambda: _plain(checks.exercise_outputs(
                        part, function(*checks.exercise_arguments(part, ex, feeders.get(part))))))
                    for name, ex in examples.items()}

        data = {"input_mutated": {"name": mistakes.INPUT_MUTATED.name, "hint": mistakes.INPUT_MUTATED.hint}}
        notebooks = self.utils.answer_cells(*self.functions, folder=self.source)
        for part in self.functions:
            data[part] = {
                "notebook": notebooks[part][0],  # where load_functions should find it
                "reference": on_examples(getattr(ref, part), part),
                "mistakes": [{"id": mistake.id, "name": mistake.name, "hint": mistake.hint,
                              "stability": mistake.stability, "outputs": on_examples(wrong, part)}
                             for mistake, wrong in mistakes.candidates(self, part)],
            }
        for part in checks.CELLS:  # a sequence's caches, step by step (the parameters are the input's)
            data[part]["caches"] = {
                name: [_plain({key: value for key, value in step.items() if key != "parameters"})
                       for step in checks.step_caches(part, getattr(ref, part)(*checks.exercise_arguments(part, ex)))]
                for name, ex in examples.items()}
        return data

    def write_visible_expected(self, path=None):
        """Write visible_expected.json (stable text: sorted keys; NaN where a mistake gives it)."""
        Path(path or self.source / self.utils.EXPECTED_FILE).write_text(_dumps(self.visible_expected()) + "\n")


EARLIER = "earlier"  # a grading course's copies of the assignments its assignment takes functions from


def earlier_folder(source, name):
    """The source folder of the assignment `name` that the assignment in `source` takes functions
    from: beside it (a course's source/), else in the grading course's copies (OUT/course/source/<a>
    has OUT/course/earlier/<name>), else the course's own source/<name>."""
    source = Path(source)
    for folder in (source.parent / name, source.parent.parent / EARLIER / name, SOURCES / name):
        if folder.is_dir():
            return folder
    return source.parent / name  # missing: exercises.py's absence says so


def _given(function):
    """`function` (an earlier assignment's reference), called through a function of this module:
    mistakes.rebound copies an assignment's own answer cells into a new namespace, and must not
    copy this one away from the namespace of the cells it calls."""
    def given(*args):
        return function(*args)
    given.__name__ = given.__qualname__ = function.__name__
    return given


def describe_case(case):
    """Words for a hidden case that say its kind, not its contents (grading.py may say more)."""
    return "a hidden input with " + ", ".join(f"{key} = {case[key]}" for key in ("m", "T_x") if key in case)


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
