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
from types import FunctionType
from typing import Callable

import numpy as np


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


def wrap_outputs(name, change):
    """The reference `name`, its result passed through change(result, *args)."""
    def make(ns):
        right = ns[name]

        def wrong(*args):
            return change(right(*args), *args)
        wrong.__name__ = name
        return wrong
    return make


def wrap_inputs(name, change):
    """The reference `name` called on change(*args)."""
    def make(ns):
        right = ns[name]

        def wrong(*args):
            return right(*change(*args))
        wrong.__name__ = name
        return wrong
    return make


# Not a different output but a side effect, found by comparing the arguments before and after.
INPUT_MUTATED = Mistake("input_mutated", "*", "an input changed in place",
                        "Build new arrays (x + y, not x += y, which writes into the array the caller passed) "
                        "and leave the arguments as they came.",
                        make=None)


def _namespace(assignment):
    """A fresh namespace of the reference functions (they call each other through it)."""
    return dict(assignment.namespace())


def rebound(ns, name, function):
    """Copies of the functions defined in `ns`, in a namespace where `name` is `function`."""
    new = dict(ns)
    for key, f in ns.items():
        if isinstance(f, FunctionType) and f.__module__ == ns.get("__name__"):  # an answer cell's
            new[key] = FunctionType(f.__code__, new, f.__name__, f.__defaults__, f.__closure__)
    new[name] = function
    return new


@lru_cache(maxsize=None)
def candidates(assignment, function, callees=True):
    """((mistake, wrong version of `function`), ...): the mistakes `assignment` declares made in
    `function`, then (when `callees`: the student's own callees are in use) those made in the
    functions it calls."""
    ns = _namespace(assignment)
    declared = assignment.mistakes
    # Its own mistakes first: where one behaves like a callee's (lstm_backward dropping dc_prevt
    # is lstm_cell_backward dropping dc_next), the callee's own test names the callee's.
    found = [(mistake, mistake.make(ns)) for mistake in declared if mistake.function == function]
    if callees:
        found += [(mistake, rebound(ns, mistake.function, mistake.make(ns))[function])
                  for mistake in declared if mistake.function in assignment.exercises[function].calls]
    return tuple(found)


def behaviour(call):
    """call()'s result, or None when it raises (a mistake may fail where the student's code does)."""
    try:
        with np.errstate(all="ignore"):
            return call()
    except Exception:
        return None
