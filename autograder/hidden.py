"""Hidden tests: the checks that graded test cells run on inputs students never see.

A graded test cell of a source notebook calls, inside its hidden region,

    from autograder.probe import probe; probe("rnn_forward_values", globals())

The grade_id names the function (its prefix) and the kind of check. The functions it
depends on are replaced by their reference versions (so a wrong `rnn_cell_forward`
costs only its own points: `rnn_forward` is graded on a correct cell), then every
hidden case is judged. A failure gives a message for the student that names the
output and the kind of input, never the input or the expected numbers.

While grading, the student's kernel only runs the function (autograder/probe.py,
fed by `request`), and the grader judges the reply (`verdict`), computing the expected
values after the function returned. Outside grading, `check` does both in one process.
"""

import copy
import re
import zlib

import numpy as np

from . import mistakes, reference

rnn_utils = reference.rnn_utils

# Shapes students never see: one example, one time step, n_a != n_x, n_y > 2; and scores
# far apart, where a softmax that does not subtract each column's maximum overflows.
HIDDEN_CASES = (
    dict(seed=7, n_x=4, n_a=6, n_y=3, m=1, T_x=1),
    dict(seed=11, n_x=2, n_a=7, n_y=4, m=3, T_x=5),
    dict(seed=13, n_x=5, n_a=3, n_y=2, m=4, T_x=6),
    dict(seed=17, n_x=3, n_a=3, n_y=5, m=2, T_x=3),
    dict(seed=19, n_x=2, n_a=4, n_y=3, m=7, T_x=2, output_scale=1000.0),
)
LARGE_SCORES = next(i for i, case in enumerate(HIDDEN_CASES) if case.get("output_scale", 1) > 1)



def _dependencies(name):
    """The graded functions `name` calls or whose outputs its test uses (its forward pass's
    cache), and theirs: it is graded against the reference versions of these."""
    exercise = rnn_utils.EXERCISES[name]
    direct = exercise.calls + ((exercise.forward,) if exercise.forward else ())
    return tuple(dict.fromkeys(d for callee in direct for d in (*_dependencies(callee), callee)))


DEPENDENCIES = {name: _dependencies(name) for name in rnn_utils.EXERCISES}

# Results equal to the reference within float32 precision pass (the seed computes
# in float32); the classic mistakes differ by percents and fail.
RTOL, ATOL = rnn_utils.RTOL, rnn_utils.ATOL


def describe(case):
    """Words for a hidden case that say its kind, not its contents."""
    words = [f"m = {case['m']}", f"T_x = {case['T_x']}"]
    if case["n_a"] != case["n_x"]:
        words.append("n_a != n_x")
    if case.get("output_scale", 1) > 1:
        words.append("large scores")
    return "a hidden input with " + ", ".join(words)


def seed_offset(function):
    """How far `function`'s hidden inputs' seeds are moved: fixed by its name alone."""
    return 1000 * (1 + zlib.crc32(function.encode()) % 10 ** 6)


def inputs(function, case, ref):
    """The arguments `function` is called with in `case`; caches come from the reference.
    Every function draws inputs of its own (the case's seed, moved by the function's name, so
    that declaring another exercise changes no other's inputs): what an oracle table of one
    function's test holds answers no other function's test."""
    feeder = rnn_utils.FEEDERS.get(function)
    seeded = dict(case, seed=case["seed"] + seed_offset(function))
    return tuple(rnn_utils.exercise_arguments(function, rnn_utils.example_inputs(**seeded),
                                              getattr(ref, feeder) if feeder else None))


def outputs(function, result):
    """The arrays a function returned, by name; AssertionError if the structure is wrong."""
    return rnn_utils.exercise_outputs(function, result)


def check_cache(function, args, result, case):
    """The cache layouts the backward pass relies on."""
    if function in rnn_utils.RESULTS:
        problem = rnn_utils.cache_problem(function, args, result, where=f", for {describe(case)}")
        assert problem is None, problem


def check_step_caches(function, result, expected, case):
    """Every step's cache of a sequence forward pass holds the reference's values: the outputs
    can be right while a cache is not (a view kept, then overwritten), and backprop reads it."""
    if function in rnn_utils.CELLS:
        problem = rnn_utils.cache_values_problem(function, rnn_utils.step_caches(function, result),
                                                 rnn_utils.step_caches(function, expected), f" for {describe(case)}")
        assert problem is None, problem


def as_float_array(value, label):
    assert isinstance(value, np.ndarray), f"{label} must be a numpy array, got {type(value).__name__}."
    assert np.issubdtype(value.dtype, np.floating), f"{label} must hold floats, got dtype {value.dtype}."
    return value.astype(np.float64)


def judge(function, kind, case, ref, pristine, result, args_after):
    """Raise AssertionError (with the student's message) unless `result` is right.

    `pristine` are the arguments as the grader made them; the expected values are
    computed here, from them, after the student's function has returned."""
    got = outputs(function, result)
    expected_result = getattr(ref, function)(*copy.deepcopy(pristine))
    expected = outputs(function, expected_result)
    for name, value in got.items():
        shape, want = np.shape(value) if isinstance(value, np.ndarray) else None, np.shape(expected[name])
        assert shape == want, f"{function}: {name} has shape {shape}, expected {want}, for {describe(case)}."
    if kind == "shapes":
        check_cache(function, pristine, result, case)
        return
    for name, value in got.items():
        value = as_float_array(value, f"{function}'s {name}")
        if not np.allclose(value, expected[name], rtol=RTOL, atol=ATOL):
            raise AssertionError(f"{function}: wrong values in {name} for {describe(case)}, the largest "
                                 f"error at index {rnn_utils.largest_error_index(value, expected[name])}.")
    assert rnn_utils.same_structure(tuple(args_after), tuple(pristine)), \
        f"{function} changed its inputs in place. {mistakes.INPUT_MUTATED.message()}"
    check_cache(function, pristine, result, case)  # the values test too: the backward pass reads it
    check_step_caches(function, result, expected_result, case)


def split(grade_id):
    function, _, kind = grade_id.rpartition("_")
    if function not in DEPENDENCIES or kind not in ("shapes", "values"):
        raise KeyError(f"no hidden check named {grade_id!r}")
    return function, kind


def check(grade_id, namespace):
    """Run the hidden check `grade_id` in this process (outside grading: nbval, instructors),
    as the probe does in a graded kernel; raises AssertionError with the student's message."""
    from .probe import run
    message = verdict(grade_id, run(request(grade_id), namespace, until_cell_ends=True))
    if message:
        raise (NotImplementedError if message.endswith("not implemented yet.") else AssertionError)(message)


def oracle_tables(function, cases):
    """{dependency: [(arguments, result)]}: every call the reference `function` makes to the
    functions it depends on, on `cases` (lists of arguments) and on the visible examples, and
    the calls of the visible tests to the forward pass that makes a backward pass's cache. A
    dependency never called gets no table (the student's own definition answers, as it would
    anyway). What the visible examples add is public: visible_expected.json holds it."""
    ref = reference.load()
    namespace = getattr(ref, function).__globals__  # the reference functions share one namespace
    tables = {name: [] for name in DEPENDENCIES[function]}
    originals = {name: namespace[name] for name in tables}

    def recorder(name):
        def call(*args):
            known = copy.deepcopy(args)
            result = originals[name](*args)
            tables[name].append((known, copy.deepcopy(result), links(result, args)))
            return result
        return call
    feeder = rnn_utils.FEEDERS.get(function)
    try:
        namespace.update({name: recorder(name) for name in tables})
        visible = [rnn_utils.exercise_arguments(function, rnn_utils.example_inputs(**example),
                                                namespace[feeder] if feeder else None)
                   for example in rnn_utils.EXAMPLES.values()]
        for args in list(cases) + visible:
            getattr(ref, function)(*copy.deepcopy(args))
    finally:
        namespace.update(originals)
    return {name: table for name, table in tables.items() if table}


def links(result, args, path=()):
    """[(path, i)]: where `result` holds the i-th argument itself (a cell's cache keeps its
    a_prev, c_prev, xt and parameters). The oracle puts the caller's own objects there, as the
    function it stands for does: an answer that later writes into an array it passed (a view
    it keeps using) changes the cache as it would with a real cell, and is judged on that."""
    for i, arg in enumerate(args):
        if result is arg and path:
            return [(list(path), i)]
    if isinstance(result, (tuple, list)):
        return [link for k, item in enumerate(result) for link in links(item, args, path + (k,))]
    return []


def request(grade_id):
    """What the probe in the student's kernel needs: the cases' arguments, and an oracle table
    for each function the graded one calls. No expected value of its own, no source code."""
    function, _ = split(grade_id)
    ref = reference.load()
    cases = [inputs(function, case, ref) for case in HIDDEN_CASES]
    return {"function": function, "cases": cases, "oracles": oracle_tables(function, cases),
            "rtol": RTOL, "atol": ATOL}


def verdict(grade_id, replies):
    """None if the probe's replies pass `grade_id`, else the message for the student
    (naming the known mistake the replies match, if any)."""
    function, kind = split(grade_id)
    ref = reference.load()
    if not isinstance(replies, list) or len(replies) != len(HIDDEN_CASES) or \
            not all(isinstance(reply, dict) for reply in replies):
        return f"{function}: the hidden tests did not complete."
    try:
        return _verdict(function, kind, ref, replies)
    except Exception:  # replies come from the student's kernel: whatever they hold, no crash, no pass
        return f"{function}: the hidden tests did not complete."


def _verdict(function, kind, ref, replies):
    every = _error_on_every_input(function, replies)
    if every:
        return every
    with np.errstate(all="ignore"):
        for case, reply in zip(HIDDEN_CASES, replies):
            message = _case_verdict(function, kind, case, ref, reply)
            if message:
                hint = None if "Known mistake:" in message else diagnosis(function, replies)
                if hint is None:
                    hint = relation(function, replies)
                return f"{message} {hint}" if hint else message
    return None


# A number with a decimal point or an exponent (an array's value), not an integer (a shape, a line).
VALUE = re.compile(r"(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+")


def student_text(text, limit=120):
    """A piece of the student's own text (an exception's message, a line of code), fit for a
    message: one line, printable, at most `limit` characters, every number with a decimal point
    or an exponent blanked (an exception's text may echo a hidden input's values), and never a
    "Known mistake:" of its own (only the grader names mistakes). Anything but text is none."""
    text = text if isinstance(text, str) else ""
    text = "".join(c if c.isprintable() else " " for c in text.split("\n")[0]).strip()
    text = re.sub(r"(?i)(mistake)\s*:", r"\1 -", VALUE.sub("…", text))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _error_text(reply):
    """': <message> (<line>)' of an error reply, from what the student's kernel sent."""
    message, line = student_text(reply.get("message")), student_text(reply.get("line"))
    return (f": {message}" if message else "") + (f" ({line})" if line else "")


def _error_on_every_input(function, replies):
    """The message when the function raised the same exception on every hidden input: then
    the error is the student's, not an edge case's."""
    errors = {_error_name(reply) for reply in replies}
    if len(errors) != 1 or next(iter(errors)) in (None, "missing", "NotImplementedError"):
        return None
    return f"{function} raised {next(iter(errors))} on every hidden input{_error_text(replies[0])}."


def _error_name(reply):
    """The exception's name a reply reports (text only, a forged one made harmless), or None."""
    error = reply.get("error")
    return None if error is None else (student_text(error, 60) or "an error")


def _case_verdict(function, kind, case, ref, reply):
    error = _error_name(reply)
    if error == "missing" and reply.get("syntax_error"):
        return f"{function} is not defined: its answer cell has a SyntaxError" \
               f"{_error_text(dict(message=reply.get('syntax_error'), line=reply.get('line')))}. " \
               "Fix it, then run the cell."
    if error == "missing":
        return f"{function} is not defined: run its answer cell."
    if error == "NotImplementedError":
        return f"{function} is not implemented yet."
    if error is not None:
        return f"{function} raised {error} for {describe(case)}{_error_text(reply)}."
    try:
        judge(function, kind, case, ref, inputs(function, case, ref), reply.get("result"),
              reply.get("args_after", ()))
    except AssertionError as failure:
        return str(failure)
    except Exception:  # whatever the student returned, it is not a right answer
        return f"{function}: its result for {describe(case)} is not what the exercise asks for."
    return None


def diagnosis(function, replies):
    """"Known mistake: ..." when the replies on every hidden case are what a known mistake
    gives (its outputs, or an error where it raises too), else None. The graded function's
    dependencies are the reference's while it is graded, so only its own mistakes count."""
    ref = reference.load()
    seen = {}
    for i, reply in enumerate(replies):
        if reply.get("error") is not None:
            seen[i] = None
            continue
        try:
            seen[i] = outputs(function, reply.get("result"))
        except Exception:
            seen[i] = {"unreadable": np.array(np.nan)}  # equals no mistake's outputs
    arguments = [inputs(function, case, ref) for case in HIDDEN_CASES]  # the mistakes leave them as they are
    known = []
    for mistake, wrong in mistakes.candidates(function, callees=False):
        known.append({"name": mistake.name, "hint": mistake.hint, "stability": mistake.stability,
                      "outputs": {i: mistakes.behaviour(lambda: outputs(function, wrong(*args)))
                                  for i, args in enumerate(arguments)}})
    return rnn_utils.known_mistake(function, seen, known, large=LARGE_SCORES)


def relation(function, replies):
    """How the student's outputs relate to the reference's (transposed, a factor m, a step
    late...) on the first hidden input where they differ, or None. The sentence names outputs
    and relations, never a value."""
    ref = reference.load()
    for case, reply in zip(HIDDEN_CASES, replies):
        try:
            got = outputs(function, reply.get("result"))
            expected = outputs(function, getattr(ref, function)(*inputs(function, case, ref)))
        except Exception:
            continue
        sentence = rnn_utils.relations.relation(got, expected, m=case["m"], T_x=case["T_x"], rtol=RTOL, atol=ATOL)
        if sentence:
            return sentence
    return None
