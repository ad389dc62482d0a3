"""Relations between a wrong answer and the reference: names for the mistakes no list holds.

A list of classic mistakes always misses some. Most wrong answers, though, are the
right values seen through one simple change: transposed, negated, scaled by 2 or by
the batch size m, put in another output's place, one time step early or late, a
tanh or sigmoid applied once too often or missing, right at one time step only, or
right everywhere but in one output or one LSTM gate. `relation` looks for those
changes between what one graded function returned on one input and what the
reference returns there, and says in a sentence which it found. It never prints an
expected number: the sentence is safe to show for a hidden input.

This file ships to students beside rnn_utils.py and runs in the grader too, so it
needs numpy and the standard library only, reads and writes nothing, and never
raises on whatever a student's function returned.
"""

import math
import re
import warnings
from collections.abc import Mapping

import numpy as np

__all__ = ["relation"]

# The longest sentence `relation` returns (a second relation or the context is left
# out to stay under it).
LIMIT = 200
GATE_NAMES = {"f": "forget", "i": "update", "c": "candidate", "o": "output"}
# The LSTM cell's gates (as named in its cache) and the gradients of their weights and biases.
_GATE_OUTPUTS = {"ft": "f", "it": "i", "cct": "c", "ot": "o"}
_GATE_GRADIENT = re.compile(r"d[Wb]([fico])")

# Families, most specific first: when several outputs are wrong, the sentence names the
# relations found of the lowest ranks.
_RANKS = {kind: rank for rank, kind in enumerate((
    "swapped", "slot", "zeros", "transposed", "transposed_steps", "reshaped", "sign", "factor",
    "applied_twice", "missing", "shifted", "last_only", "first_only", "all_but_first", "all_but_last",
    "fitted_factor"))}


def relation(got, expected, label=str, m=None, T_x=None, rtol=1e-4, atol=1e-6):
    """One or two sentences naming how the wrong outputs in `got` relate to the right ones.

    got       {output name: what the student's function returned} (anything)
    expected  {output name: the reference's float64 array}, the same names in the same order
    label     label(name) -> how the sentence names an output, e.g. 'gradients["dWax"]'
    m, T_x    the batch size and number of time steps of the input (to name a factor m or T_x;
              taken from the 3-D outputs when not given)
    rtol, atol  the tolerance of the check (np.allclose's)

    None when every output matches, or when no relation is found. 3-D arrays have time
    as their last axis.
    """
    try:
        return _relation(got, expected, label, m, T_x, rtol, atol)
    except Exception:  # a hint is a bonus: nothing a student returns may break the test that asks for it
        return None


def _relation(got, expected, label, m, T_x, rtol, atol):
    if not isinstance(got, Mapping) or not isinstance(expected, Mapping) or not expected:
        return None
    names = list(expected)
    want = {name: _array(expected[name]) for name in names}
    if any(value is None for value in want.values()):
        return None
    have = {name: _array(got.get(name)) for name in names}
    wrong = [name for name in names if not _matches(have[name], want[name], rtol, atol)]
    if not wrong:
        return None
    m, T_x = _sizes(want, m, T_x)
    close = _Close(rtol, atol)
    found = {name: _family(name, have, want, close, m, T_x) for name in wrong}
    items = _grouped({name: kind for name, kind in found.items() if kind}, names, wrong)

    def name_of(name):
        try:
            return str(label(name))
        except Exception:
            return str(name)

    return _sentence(items, names, wrong, name_of)


def _array(value):
    """`value` as a float64 array, or None when it is not numbers (a string, None, ragged lists)."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ragged lists in older numpy
            array = np.asarray(value)
            if array.dtype.kind == "c":  # its imaginary part would be dropped without a word
                return None
            return array.astype(np.float64)
    except Exception:
        return None


def _matches(value, reference, rtol, atol):
    return (value is not None and value.shape == reference.shape
            and np.allclose(value, reference, rtol=rtol, atol=atol, equal_nan=True))


def _sizes(want, m, T_x):
    """(m, T_x) as given, else read from the first 3-D output's shape (n, m, T_x)."""
    steps = [value.shape for value in want.values() if value.ndim == 3]
    if m is None and steps:
        m = steps[0][1]
    if T_x is None and steps:
        T_x = steps[0][2]
    return m, T_x


class _Close:
    """close(value, reference): np.allclose with the check's tolerance (the reference on the
    right, as np.allclose has it), False for different shapes or a NaN; negligible(reference):
    all within atol of zero, where any factor fits and no relation means anything."""

    def __init__(self, rtol, atol):
        self.rtol, self.atol = rtol, atol

    def __call__(self, value, reference):
        if value.shape != reference.shape:
            return False
        with np.errstate(all="ignore"):
            return bool(np.all(np.abs(value - reference) <= self.atol + self.rtol * np.abs(reference)))

    def negligible(self, reference):
        return bool(np.all(np.abs(reference) <= self.atol))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


_FUNCTIONS = (("tanh", np.tanh), ("sigmoid", _sigmoid), ("softmax", _softmax))


def _factors(m, T_x):
    """(factor, its name) to try, the batch size and the time steps first: when m = 2,
    "m times" says more than "twice"."""
    factors = []
    for size, name in ((m, "m"), (T_x, "T_x")):
        if isinstance(size, (int, float, np.integer, np.floating)) and size > 1 and float(size).is_integer():
            factors += [(float(size), name), (1 / float(size), f"1/{name}")]
    factors += [(2.0, "2"), (0.5, "1/2")]
    seen, unique = set(), []
    for factor, name in factors:
        if factor not in seen:
            seen.add(factor)
            unique.append((factor, name))
    return unique


def _family(name, have, want, close, m, T_x):
    """(kind, detail) of the relation between the wrong output `name` and its reference, or None."""
    g, e = have[name], want[name]
    if g is None or e.size == 0 or close.negligible(e):
        return None
    with np.errstate(all="ignore"):
        if g.shape != e.shape:
            return _reshaped(g, e, close)
        if not np.all(np.isfinite(g)):
            return None
        for other, reference in want.items():
            if other != name and reference.shape == g.shape and not close.negligible(reference) \
                    and close(g, reference):
                return ("slot", other)
        if not np.any(g) and g.size > 1:  # one zero says nothing (a sampled index 0 is a draw)
            return ("zeros", None)
        if e.ndim == 2 and close(g, e.T):  # square: the shape cannot tell
            return ("transposed", None)
        if e.ndim == 3 and close(g, e.transpose(1, 0, 2)):
            return ("transposed_steps", None)
        if close(g, -e):
            return ("sign", None)
        for factor, factor_name in _factors(m, T_x):
            if close(g, factor * e):
                return ("factor", factor_name)
        for function_name, function in _FUNCTIONS:
            if close(g, function(e)):
                return ("applied_twice", function_name)
            if close(function(g), e):
                return ("missing", function_name)
        if e.ndim == 3 and e.shape[2] >= 2:
            steps = _in_time(g, e, close)
            if steps:
                return steps
        return _fitted_factor(g, e, close)


def _reshaped(g, e, close):
    if g.ndim == e.ndim == 2 and close(g, e.T):
        return ("transposed", None)
    if g.ndim == e.ndim == 3 and close(g, e.transpose(1, 0, 2)):
        return ("transposed_steps", None)
    if g.size == e.size and close(g.reshape(e.shape), e):
        return ("reshaped", None)
    return None


def _in_time(g, e, close):
    """A relation of a 3-D output (time last) that holds step by step."""
    if not close.negligible(e[..., :-1]) and close(g[..., 1:], e[..., :-1]):
        return ("shifted", "t-1")
    if not close.negligible(e[..., 1:]) and close(g[..., :-1], e[..., 1:]):
        return ("shifted", "t+1")
    T = e.shape[2]
    right = [close(g[..., t], e[..., t]) for t in range(T)]
    if right == [False] * (T - 1) + [True] and not close.negligible(e[..., -1]):
        return ("last_only", None)
    if right == [True] + [False] * (T - 1) and not close.negligible(e[..., 0]):
        return ("first_only", None)
    if right == [False] + [True] * (T - 1):
        return ("all_but_first", None)
    if right == [True] * (T - 1) + [False]:
        return ("all_but_last", None)
    return None


def _fitted_factor(g, e, close):
    """("factor", "k") when g is exactly k times e for a k no other family names."""
    if e.size < 2:  # one number is always some multiple of another
        return None
    factor = float(np.sum(g * e) / np.sum(e * e))
    if not math.isfinite(factor) or factor == 0 or abs(abs(factor) - 1) < 1e-3 or not close(g, factor * e):
        return None
    return ("fitted_factor", _number(factor))


def _number(factor):
    """How a factor reads: 3, 1/3 or 1.37."""
    for value, template in ((factor, "{}"), (1 / factor, "1/{}")):
        whole = round(value)
        if whole not in (0, 1, -1) and abs(value - whole) < 1e-4 * abs(value):
            return template.format(whole)
    return f"{factor:.3g}"


def _grouped(found, names, wrong):
    """[(kind, detail, [output names])], the relations found, outputs with the same relation
    together, two outputs in each other's slot as one "swapped", most specific first."""
    items, taken = [], set()
    for name in names:
        if name not in found or name in taken:
            continue
        kind, detail = found[name]
        if kind == "slot" and found.get(detail) == ("slot", name):
            items.append(("swapped", name, [name, detail]))
            taken.update((name, detail))
            continue
        same = [other for other in names if other not in taken and found.get(other) == (kind, detail)]
        items.append((kind, detail, same))
        taken.update(same)
    order = {name: index for index, name in enumerate(names)}
    return sorted(items, key=lambda item: (_RANKS[item[0]], order[item[2][0]]))


def _gate(name):
    if name in _GATE_OUTPUTS:
        return _GATE_OUTPUTS[name]
    match = _GATE_GRADIENT.fullmatch(name)
    return match.group(1) if match else None


def _one_place(wrong, names):
    """(True, the gate letter or None) when everything but one output, or but the outputs
    of one LSTM gate, is right; (False, None) otherwise."""
    if len(wrong) == len(names):
        return False, None
    gates = {_gate(name) for name in wrong}
    gate = gates.pop() if len(gates) == 1 else None
    if len(wrong) == 1 or gate:
        return True, gate
    return False, None


def _listed(labels):
    if len(labels) <= 2:
        return " and ".join(labels)
    return f"{labels[0]}, {labels[1]} and {len(labels) - 2} more"


_VERBS = {"is": "are", "has": "have", "holds": "hold"}


def _phrase(kind, detail, outputs, names, name_of):
    """What the relation `kind` says about `outputs`, as a clause."""
    if kind == "swapped":
        return f"{name_of(outputs[0])} and {name_of(outputs[1])} are swapped"
    if len(outputs) == len(names) > 2:
        subject, plural = "every output", False
    else:
        subject, plural = _listed([name_of(name) for name in outputs]), len(outputs) > 1

    def verb(word):
        return _VERBS[word] if plural else word

    if kind == "slot":
        return f"{subject} {verb('holds')} the expected values of {name_of(detail)}"
    if kind == "zeros":
        return f"{subject} {verb('is')} all zeros"
    if kind == "transposed":
        return f"{subject} {verb('is')} transposed (rows and columns swapped)"
    if kind == "transposed_steps":
        return f"{subject} {verb('is')} transposed at every time step (the first two axes swapped)"
    if kind == "reshaped":
        return f"{subject} {verb('has')} the expected values in the wrong shape"
    if kind == "sign":
        return f"{subject} {verb('has')} the expected values with the opposite sign"
    if kind in ("factor", "fitted_factor"):
        return f"{subject} {verb('is')} {_FACTOR_TEXT.get(detail) or detail + ' times the expected values'}"
    if kind == "applied_twice":
        return f"{subject} {verb('is')} {detail} of the expected values: {detail} applied once too often"
    if kind == "missing":
        return f"{subject} {verb('is')} right once {detail} is applied: a {detail} is missing"
    if kind == "shifted":
        return (f"{subject} at step t {verb('holds')} the expected values of step {detail} "
                f"(a time index off by one)")
    if kind in ("last_only", "first_only"):
        step = kind.split("_")[0]
        return (f"{subject} {verb('is')} right at the {step} time step only: "
                f"check what is carried from one step to the next")
    step = kind.rsplit("_", 1)[1]
    return f"{subject} {verb('is')} right at every time step but the {step}"


_FACTOR_TEXT = {
    "2": "twice the expected values",
    "1/2": "half the expected values",
    "m": "m times the expected values (m, the number of examples)",
    "1/m": "the expected values divided by m, the number of examples (a mean instead of a sum?)",
    "T_x": "T_x times the expected values (T_x, the number of time steps)",
    "1/T_x": "the expected values divided by T_x, the number of time steps",
}


def _sentence(items, names, wrong, name_of):
    """The relations (at most two) and, when only one output or gate is wrong, that the rest is right."""
    one_place, gate = _one_place(wrong, names)
    hint = f": look at the {GATE_NAMES[gate]} gate" if gate else ""
    candidates = []
    for count in (2, 1):
        chosen = items[:count]
        if not chosen and count == 1 and one_place:
            return f"Everything is right except {_listed([name_of(name) for name in wrong])}{hint}."
        if not chosen:
            continue
        text = "; ".join(_phrase(*item, names, name_of) for item in chosen)
        if text.startswith("every output"):
            text = "E" + text[1:]
        covered = {name for item in chosen for name in item[2]}
        rest = [name for name in wrong if name not in covered]
        if one_place and not rest:
            candidates.append(f"{text}; everything else is right{hint}.")
        elif one_place:
            candidates.append(f"{text}. Everything else is right except "
                              f"{_listed([name_of(name) for name in rest])}{hint}.")
        candidates.append(f"{text}.")
    if not candidates:
        return None
    return next((text for text in candidates if len(text) <= LIMIT), candidates[-1])
