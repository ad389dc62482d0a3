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
Each function takes `a`, the assignment (autograder.reference.Assignment) the test is of:
its declared exercises, its hidden cases and mistakes, its reference; and those that make
hidden inputs take `draw`, the submission's draw of them (see `submission_draw`).

The hidden inputs are drawn afresh for every submission: the kernel can read them while its
notebook runs (they are in its requests), and a later test cell's visible part could ask a
dependency's oracle for its answers on them and print them. Answers printed for one submission
answer no other: any change of the submission's files changes every input, and which files give
which inputs depends on the course's key, which students never see.
"""

import copy
import functools
import hashlib
import hmac
import os
import re
import secrets
import zlib
from pathlib import Path

import numpy as np

from . import mistakes


# The draw outside grading (`check`: nbval, an instructor's or a student's own run): the inputs
# every grading drew before draws were made per submission.
FIXED = 0
# A draw moves every seed by itself times 2**DRAW_SHIFT, an attempt at it by itself times
# 2**ATTEMPT_SHIFT: above the case's seed and the function's offset (under 2**31 together), so
# that no two draws, nor two attempts, give one seed.
ATTEMPT_SHIFT, DRAW_SHIFT = 32, 64
# Attempts at a draw that tells every declared mistake from the right answer and from the others
# (`drawn`): about one draw in a hundred needs a second.
ATTEMPTS = 20
# The course's key (KEY_BYTES random bytes) in a grading course's folder: OUT/course/ (beside
# source/, never in it: nbgrader copies the files of source/<assignment> where student code runs),
# the root of the Gradescope zip, a Dask bundle's folder.
KEY = "hidden_inputs.key"
KEY_BYTES = 32


def seed_offset(function):
    """How far `function`'s hidden inputs' seeds are moved: fixed by its name alone."""
    return 1000 * (1 + zlib.crc32(function.encode()) % 10 ** 6)


def case_seed(case, function, draw, attempt=0):
    """The seed `function`'s inputs in `case` are made from: the case's, moved by the function's
    name (declaring another exercise changes no other's inputs), by the submission's `draw` and by
    the `attempt` at it."""
    return case["seed"] + seed_offset(function) + (attempt << ATTEMPT_SHIFT) + (draw << DRAW_SHIFT)


def inputs(a, function, draw):
    """The arguments `function` is called with in each hidden case, for the submission whose draw
    is `draw` (copies of their own: the caller may change them)."""
    return copy.deepcopy(drawn(a, function, draw))


@functools.lru_cache(maxsize=256)
def drawn(a, function, draw):
    """Each hidden case's arguments of `function` (caches come from the reference), of the first
    attempt at `draw` that tells every mistake declared in `function` from the right answer and from
    the others (tells_every_mistake), as the hidden cases were chosen to with the fixed draw, whose
    first attempt does (tests/test_hidden.py). A draw at random may not, about one in a hundred:
    scores close enough together that a softmax without its maximum does not overflow, samples that
    a generator made anew for every example draws alike. Kept as it came, a student could resubmit
    until a draw passed their mistake."""
    ref = a.load()
    feeder = a.checks.FEEDERS.get(function)
    for attempt in range(ATTEMPTS):
        cases = tuple(tuple(a.checks.exercise_arguments(
            function, a.checks.example_inputs(**dict(case, seed=case_seed(case, function, draw, attempt))),
            getattr(ref, feeder) if feeder else None)) for case in a.hidden_cases)
        if tells_every_mistake(a, function, cases):
            break
    return cases


def tells_every_mistake(a, function, cases):
    """Whether `cases` (each case's arguments) tell every mistake declared in `function` from the
    right answer and from the others: its outputs differ from the reference's on a case it is judged
    on (the large one only for a mistake of numerical stability, as `diagnosis` judges them), so that
    an answer that makes it fails; and `diagnosis` names it, not a mistake before it in the list."""
    ref = a.load()
    right = [outputs(a, function, getattr(ref, function)(*copy.deepcopy(args))) for args in cases]
    known = known_mistakes(a, function, cases)
    for mistake in known:
        judged = [i for i in range(len(cases)) if mistake["stability"] or i != a.large_hidden_case]
        if all(a.checks.outputs_match(mistake["outputs"][i], right[i]) for i in judged):
            return False
        named = a.checks.known_mistake(function, mistake["outputs"], known, large=a.large_hidden_case)
        if any(mistake["outputs"][i] is not None for i in judged) and named != mistake_message(mistake):
            return False
    return True


def known_mistakes(a, function, cases):
    """The mistakes declared in `function`, as rnn_checks.known_mistake takes them: each with its
    outputs on each of `cases` (None where it raises)."""
    return [{"name": mistake.name, "hint": mistake.hint, "stability": mistake.stability,
             "outputs": {i: mistakes.behaviour(lambda: outputs(a, function, wrong(*copy.deepcopy(args))))
                         for i, args in enumerate(cases)}}
            for mistake, wrong in mistakes.candidates(a, function, callees=False)]


def mistake_message(mistake):
    """What rnn_checks.known_mistake says of `mistake` (one of known_mistakes)."""
    return f"Known mistake: {mistake['name']}. {mistake['hint']}"


def submission_draw(key, files):
    """The draw of hidden inputs of the submission whose files are `files` ({name: bytes}): the
    HMAC-SHA256, under the course's `key`, of every file's name and content, as a 256-bit number
    (numpy's generators take all of it). The same files give the same inputs (grading again gives
    the same scores); any other content, other inputs. Without the key no one can tell which content
    gives which inputs, nor search for content that gives those of another submission."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for name in sorted(files):
        mac.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return int.from_bytes(mac.digest(), "big")


def folder_files(folder):
    """{path relative to `folder`: bytes} of every file under it (links are not followed): a
    submission as nbgrader's submitted/<student>/<assignment>/ holds it."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file() and not path.is_symlink()}


def course_key(course, given=None):
    """The key of the grading course in the folder `course`: `given` (written there, replacing any),
    else the one there, else a new one, made at random on first use (atomically: two workers never
    make two). Readable by its owner alone; the grader never writes it where a kernel can read."""
    path = Path(course) / KEY
    if given is None and path.is_file():
        return _read_key(path)
    fresh = path.with_name(f".{KEY}.{os.getpid()}.{secrets.token_hex(4)}")
    fresh.write_bytes(given if given is not None else secrets.token_bytes(KEY_BYTES))
    os.chmod(fresh, 0o600)
    try:
        if given is not None:
            os.replace(fresh, path)
        else:
            try:
                os.link(fresh, path)  # fails if another process made it first: theirs is the key
            except FileExistsError:
                pass
    finally:
        fresh.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path):
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path} holds {len(key)} bytes, not a key of {KEY_BYTES}: delete it to make a new one.")
    return key


def outputs(a, function, result):
    """The arrays a function returned, by name; AssertionError if the structure is wrong."""
    return a.checks.exercise_outputs(function, result)


def check_cache(a, function, args, result, case):
    """The cache layouts the backward pass relies on."""
    if a.exercises[function].cached:
        problem = a.checks.cache_problem(function, args, result, where=f", for {a.describe(case, function)}")
        assert problem is None, problem


def check_step_caches(a, function, result, expected, case):
    """Every step's cache of a sequence forward pass holds the reference's values: the outputs
    can be right while a cache is not (a view kept, then overwritten), and backprop reads it."""
    checks = a.checks
    if function in checks.CELLS:
        problem = checks.cache_values_problem(function, checks.step_caches(function, result),
                                              checks.step_caches(function, expected), f" for {a.describe(case, function)}")
        assert problem is None, problem


def _as_array(value):
    """A returned output as an array: an array, or a number (Python's or numpy's, not a bool) as a
    0-d array (a loss); None for anything else."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        return np.asarray(value)
    return None


def as_float_array(value, label):
    array = _as_array(value)
    assert array is not None, f"{label} must be a numpy array or a number, got {type(value).__name__}."
    assert np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer), \
        f"{label} must hold numbers, got dtype {array.dtype}."  # integers: sampled indices
    return array.astype(np.float64)


def judge(a, function, kind, case, ref, pristine, result, args_after):
    """Raise AssertionError (with the student's message) unless `result` is right.

    `pristine` are the arguments as the grader made them; the expected values are
    computed here, from them, after the student's function has returned."""
    got = outputs(a, function, result)
    expected_result = getattr(ref, function)(*copy.deepcopy(pristine))
    expected = outputs(a, function, expected_result)
    for name, value in got.items():
        shape, want = np.shape(value) if _as_array(value) is not None else None, np.shape(expected[name])
        assert shape == want, f"{function}: {name} has shape {shape}, expected {want}, for {a.describe(case, function)}."
    if kind == "shapes":
        check_cache(a, function, pristine, result, case)
        return
    for name, value in got.items():
        value = as_float_array(value, f"{function}'s {name}")
        if not np.allclose(value, expected[name], rtol=a.checks.RTOL, atol=a.checks.ATOL):
            if value.ndim == 0:  # a number (a loss): no index to give
                raise AssertionError(f"{function}: wrong value of {name} for {a.describe(case, function)}.")
            raise AssertionError(f"{function}: wrong values in {name} for {a.describe(case, function)}, the largest "
                                 f"error at index {a.checks.largest_error_index(value, expected[name])}.")
    assert a.checks.same_structure(tuple(args_after), tuple(pristine)), \
        f"{function} changed its inputs in place. {mistakes.INPUT_MUTATED.message()}"
    check_cache(a, function, pristine, result, case)  # the values test too: the backward pass reads it
    check_step_caches(a, function, result, expected_result, case)


def split(a, grade_id):
    function, _, kind = grade_id.rpartition("_")
    if function not in a.exercises or kind not in ("shapes", "values"):
        raise KeyError(f"no hidden check named {grade_id!r}")
    return function, kind


def check(grade_id, namespace, source=None):
    """Run the hidden check `grade_id` in this process (outside grading: nbval, instructors),
    as the probe does in a graded kernel, for the assignment whose source notebooks are in
    `source` (default: the working folder when it is one, as a kernel's is, else the course's
    assignment that declares the function); raises AssertionError with the student's message."""
    from . import reference
    from .probe import run
    a = reference.of(source) if source is not None else assignment_of(grade_id)
    replies = run(request(a, grade_id, FIXED), namespace, local_answer(a), until_cell_ends=True)
    message = verdict(a, grade_id, replies, FIXED)
    if message:
        raise (NotImplementedError if message.endswith("not implemented yet.") else AssertionError)(message)


def assignment_of(grade_id):
    """The assignment of the working folder when it is one of the course's source folders (a
    source notebook's kernel, under nbval), else the course's assignment that declares
    `grade_id`'s function. Never a folder that merely holds the assignment's files: a student's
    folder does (plain nbgrader copies even grading.py there), and its notebooks would become
    the reference."""
    from pathlib import Path

    from . import reference
    here = Path.cwd().resolve()
    if here.parent == reference.SOURCES.resolve() and (here / reference.DECLARATIONS).is_file():
        return reference.of(here)
    function = grade_id.rpartition("_")[0]
    found = [a for a in map(reference.named, reference.assignments()) if function in a.exercises]
    if len(found) != 1:
        raise KeyError(f"no hidden check named {grade_id!r}" if not found else
                       f"{grade_id!r} is in several assignments: pass `source`")
    return found[0]


def reference_call(a, name, args):
    """(result, links) of the reference `name` (of `a`, or of an earlier assignment it calls) on
    `args`, which it may keep (a cell's cache holds them): links say where, for the oracle to put
    the caller's own objects there."""
    result = a.reference(name)(*args)
    return result, links(result, args)


def local_answer(a):
    """An oracle's answers in this process (outside grading), as the grader's (autograder/oracles.py):
    the reference on a copy of the arguments, so that it keeps nothing of the caller's but what
    links give back; its error as OracleMiss, with the error's name alone."""
    from .probe import OracleMiss

    def answer(name, args):
        try:
            return reference_call(a, name, copy.deepcopy(args))
        except Exception as error:
            raise OracleMiss(f"{name} raised {type(error).__name__} on these arguments") from None
    return answer


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


def request(a, grade_id, draw):
    """What the probe in the student's kernel needs: the cases' arguments (of the submission's
    `draw`), and the functions the graded one depends on, with their parameters (the grader answers
    their calls). No expected value, no answer of a dependency, no source code."""
    function, _ = split(a, grade_id)
    cases = list(inputs(a, function, draw))
    oracles = list(a.dependencies[function])
    return {"function": function, "cases": cases, "oracles": oracles,
            "signatures": {name: list(a.parameters(name)) for name in oracles}}


def verdict(a, grade_id, replies, draw):
    """None if the probe's replies (on the inputs of `draw`) pass `grade_id`, else the message for
    the student (naming the known mistake the replies match, if any)."""
    function, kind = split(a, grade_id)
    ref = a.load()
    if not isinstance(replies, list) or len(replies) != len(a.hidden_cases) or \
            not all(isinstance(reply, dict) for reply in replies):
        return f"{function}: the hidden tests did not complete."
    try:
        return _verdict(a, function, kind, ref, replies, draw)
    except Exception:  # replies come from the student's kernel: whatever they hold, no crash, no pass
        return f"{function}: the hidden tests did not complete."


def _verdict(a, function, kind, ref, replies, draw):
    every = _error_on_every_input(function, replies)
    if every:
        return every
    with np.errstate(all="ignore"):
        for case, reply, pristine in zip(a.hidden_cases, replies, inputs(a, function, draw)):
            message = _case_verdict(a, function, kind, case, ref, reply, pristine)
            if message:
                hint = None if "Known mistake:" in message else diagnosis(a, function, replies, draw)
                if hint is None:
                    hint = relation(a, function, replies, draw)
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


def _case_verdict(a, function, kind, case, ref, reply, pristine):
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
        return f"{function} raised {error} for {a.describe(case, function)}{_error_text(reply)}."
    try:
        judge(a, function, kind, case, ref, pristine, reply.get("result"),
              reply.get("args_after", ()))
    except AssertionError as failure:
        return str(failure)
    except Exception:  # whatever the student returned, it is not a right answer
        return f"{function}: its result for {a.describe(case, function)} is not what the exercise asks for."
    return None


def diagnosis(a, function, replies, draw):
    """"Known mistake: ..." when the replies on every hidden case are what a known mistake
    gives (its outputs, or an error where it raises too), else None. The graded function's
    dependencies are the reference's while it is graded, so only its own mistakes count."""
    seen = {}
    for i, reply in enumerate(replies):
        if reply.get("error") is not None:
            seen[i] = None
            continue
        try:
            seen[i] = outputs(a, function, reply.get("result"))
        except Exception:
            seen[i] = {"unreadable": np.array(np.nan)}  # equals no mistake's outputs
    known = known_mistakes(a, function, drawn(a, function, draw))
    return a.checks.known_mistake(function, seen, known, large=a.large_hidden_case)


def relation(a, function, replies, draw):
    """How the student's outputs relate to the reference's (transposed, a factor m, a step
    late...) on the first hidden input where they differ, or None. The sentence names outputs
    and relations, never a value."""
    ref = a.load()
    for case, reply, args in zip(a.hidden_cases, replies, inputs(a, function, draw)):
        try:
            got = outputs(a, function, reply.get("result"))
            expected = outputs(a, function, getattr(ref, function)(*args))
        except Exception:
            continue
        sentence = a.checks.relations.relation(got, expected, m=case["m"], T_x=case["T_x"],
                                               rtol=a.checks.RTOL, atol=a.checks.ATOL)
        if sentence:  # a factor with decimals comes from the hidden input (a norm): not shown
            return VALUE.sub("a constant", sentence)
    return None
