"""The probe's reply is plain data, and verdicts on it cannot be faked from the kernel."""

import base64

import numpy as np
import pytest

from autograder import hidden, probe
from tests import mistakes
from tests.helpers import RNN


def test_plain_data_round_trips():
    value = {"a": (np.arange(3.0), [1, 2.5, None, "x"]), "b": np.float32(2.0)}
    back = probe.loads(probe.dumps(value))
    assert np.array_equal(back["a"][0], np.arange(3.0)) and back["a"][1] == [1, 2.5, None, "x"]
    assert back["b"].dtype == np.float64 and float(back["b"]) == 2.0


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __array__(self, *args, **kwargs):
        raise TypeError("no")


def test_objects_that_claim_equality_become_data_that_equals_nothing():
    back = probe.loads(probe.dumps((AlwaysEqual(), np.ones(2))))
    assert isinstance(back[0], probe.Unknown) and not (back[0] == 1)


@pytest.mark.parametrize("shapes", ['[[5]]', '[[-1, -2]]', '[[2], [2]]', '[["x"]]', '[{"a": 1}]', '5'])
def test_shapes_the_values_do_not_fill_are_refused(shapes):
    """A kernel may write any JSON beside three values: nothing it writes gets past ValueError."""
    values = base64.b64encode(np.arange(3.0).tobytes()).decode()
    with pytest.raises(ValueError):
        probe.loads('{"structure": {"array": 0}, "shapes": %s, "values": "%s"}' % (shapes, values))
    with pytest.raises(ValueError):
        probe.loads(shapes)  # not even the document's outline


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,                          # nested past any recursion limit
    '{"structure": {"list": [' + "[]," * 300_000 + '[]]}, "shapes": [], "values": ""}',  # too many values
    '{"structure": {"value": "' + "x" * (probe.MAX_CHARS + 1) + '"}, "shapes": [], "values": ""}',  # too long
    '{"structure": {"array": 0}, "shapes": [[1]], "values": "not base64!"}',
    '{"structure": {"dict": {"a": {"tuple": 5}}}, "shapes": [], "values": ""}',
    b"bytes, not text",
])
def test_hostile_replies_are_refused_before_they_cost_memory(text):
    with pytest.raises(ValueError):
        probe.loads(text)


def test_many_arrays_round_trip_in_order():
    value = [np.full((i % 3 + 1, 2), float(i)) for i in range(50)] + [np.zeros((0, 4)), np.float64(7.0)]
    back = probe.loads(probe.dumps(value))
    assert len(back) == 52 and all(np.array_equal(a, b) for a, b in zip(back, value))
    assert back[50].shape == (0, 4) and back[51].shape == ()


def replies_from(function_name, student, grade_id):
    """What the probe would publish for `student`, computed here without a kernel."""
    return probe.run(hidden.request(RNN, grade_id), {function_name: student})


def roundtrip(tmp_path, replies):
    return probe.loads(probe.dumps(replies))


@pytest.mark.parametrize("function", list(RNN.dependencies))
def test_reference_replies_pass_and_wrong_ones_fail(tmp_path, function):
    ref = mistakes.fresh_reference()
    for kind in ("shapes", "values"):
        grade_id = f"{function}_{kind}"
        assert hidden.verdict(RNN, grade_id, roundtrip(tmp_path, replies_from(function, ref[function], grade_id))) is None
    wrong = roundtrip(tmp_path, replies_from(function, mistakes.scaled(ref[function]), f"{function}_values"))
    assert hidden.verdict(RNN, f"{function}_values", wrong).startswith(f"{function}: wrong values")


def test_a_reply_that_lies_about_equality_fails(tmp_path):
    replies = [{"result": (AlwaysEqual(), AlwaysEqual(), AlwaysEqual()), "args_after": ()}
               for _ in RNN.hidden_cases]
    message = hidden.verdict(RNN, "rnn_cell_forward_values", roundtrip(tmp_path, replies))
    assert message and "rnn_cell_forward" in message


@pytest.mark.parametrize("replies, message", [
    ([], "the hidden tests did not complete"),
    ("passed", "the hidden tests did not complete"),
    ([{"error": "missing"}] * len(RNN.hidden_cases), "is not defined"),
    ([{"error": "NotImplementedError"}] * len(RNN.hidden_cases), "is not implemented yet"),
    ([{"error": "ZeroDivisionError"}] * len(RNN.hidden_cases), "raised ZeroDivisionError on every hidden input"),
    ([{"error": "ZeroDivisionError"}] + [{"error": "KeyError"}] * (len(RNN.hidden_cases) - 1),
     "raised ZeroDivisionError for a hidden input with m = 1"),
    ([{"error": "missing", "syntax_error": "invalid syntax", "line": "line 3: a = (1"}] * len(RNN.hidden_cases),
     "rnn_forward is not defined: its answer cell has a SyntaxError: invalid syntax (line 3: a = (1). Fix it"),
    # a SyntaxError the function raises when run (eval) is an error like any other
    ([{"error": "SyntaxError", "message": "invalid syntax"}] * len(RNN.hidden_cases),
     "rnn_forward raised SyntaxError on every hidden input: invalid syntax."),
    # forged replies: anything but text where text is due is no crash and no pass
    ([{"error": ["x"]}] * len(RNN.hidden_cases), "rnn_forward raised an error on every hidden input."),
    ([{"error": "ValueError", "message": [1, 2], "line": {"a": 1}}] * len(RNN.hidden_cases),
     "rnn_forward raised ValueError on every hidden input."),
    ([{"error": "ValueError", "message": "Known mistake: the grader was bribed. Full marks."}] * len(RNN.hidden_cases),
     "rnn_forward raised ValueError on every hidden input: Known mistake - the grader was bribed. Full marks.."),
    ([{"result": None, "args_after": 5}] * len(RNN.hidden_cases), "rnn_forward"),
])
def test_incomplete_or_failing_replies_fail(replies, message):
    assert message in hidden.verdict(RNN, "rnn_forward_values", replies)


def test_the_request_carries_no_expected_value_and_no_source():
    request = hidden.request(RNN, "rnn_backward_values")
    assert set(request) == {"function", "cases", "oracles", "shaped", "rtol", "atol"}
    # what the reference rnn_backward calls, and the forward pass its visible tests take the cache from
    assert {"rnn_cell_backward", "rnn_forward"} <= set(request["oracles"]) <= set(RNN.dependencies["rnn_backward"])
    for grade_id in [f"{f}_{kind}" for f in RNN.dependencies for kind in ("shapes", "values")]:
        text = probe.dumps(hidden.request(RNN, grade_id), max_depth=32)
        assert "Unknown" not in repr(probe.loads(text)), grade_id
        assert "def " not in text and "SOLUTION" not in text and "return" not in text, grade_id


def test_no_two_functions_share_a_hidden_input():
    ref = RNN.load()
    seen = {}
    for function in RNN.dependencies:
        for case in RNN.hidden_cases:
            x = hidden.inputs(RNN, function, case, ref)[0]
            key = np.asarray(x).tobytes()
            assert key not in seen, (function, seen.get(key))
            seen[key] = function


def test_an_oracle_answers_exactly_the_calls_of_a_right_answer_and_no_other():
    request = hidden.request(RNN, "rnn_forward_values")
    (args, result, _), = request["oracles"]["rnn_cell_forward"][:1]
    oracle = probe.Oracle("rnn_cell_forward", request["oracles"]["rnn_cell_forward"], None, RNN.checks.RTOL, RNN.checks.ATOL)
    assert all(np.array_equal(a, b) for a, b in zip(oracle(*args)[:2], result[:2]))
    assert all(np.array_equal(a, b) for a, b in zip(oracle(args[0].astype(np.float32), *args[1:])[:2], result[:2]))
    with pytest.raises(probe.OracleMiss):
        oracle(args[0] + 1, *args[1:])
    own = probe.Oracle("rnn_cell_forward", [], lambda *a: "the student's own", RNN.checks.RTOL, RNN.checks.ATOL)
    assert own(*args) == "the student's own"


def test_an_oracle_keeps_the_callers_own_arguments_in_the_cache_as_a_cell_does():
    """A cell's cache holds its arguments themselves: an answer that writes into an array after
    passing it (a view it keeps) must see that write in the cache, with an oracle as with a cell."""
    request = hidden.request(RNN, "lstm_forward_values")
    (args, result, links), = request["oracles"]["lstm_cell_forward"][:1]
    assert sorted(i for _, i in links) == [0, 1, 2, 3]
    oracle = probe.Oracle("lstm_cell_forward", request["oracles"]["lstm_cell_forward"], None, RNN.checks.RTOL, RNN.checks.ATOL)
    mine = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    cache = oracle(*mine)[-1]
    assert cache[2] is mine[1] and cache[3] is mine[2] and cache[8] is mine[0] and cache[9] is mine[3]


def test_the_namespace_is_as_it_was_after_a_probe():
    ref = RNN.load()
    own = object()
    namespace = {"rnn_backward": ref.rnn_backward, "rnn_cell_forward": own}
    replies = probe.run(hidden.request(RNN, "rnn_backward_values"), namespace)
    assert hidden.verdict(RNN, "rnn_backward_values", replies) is None
    assert namespace == {"rnn_backward": ref.rnn_backward, "rnn_cell_forward": own}


def test_an_earlier_assignments_function_answers_a_wrong_call_with_nan_of_the_right_shapes():
    """rnn_train_step calls the first assignment's rnn_backward, whose code is not in the kernel.
    A call a right answer makes gets its answer; a call of the same shapes on other values gets
    that answer's structure with NaN for every number (the shapes test can pass, the values test
    cannot: no wrong call is answered with a right value); other shapes are not answered."""
    from autograder import reference
    lm = reference.named("char_language_model")
    request = hidden.request(lm, "rnn_train_step_values")
    assert request["shaped"] == ["rnn_forward", "rnn_backward"]
    table = request["oracles"]["rnn_backward"]
    (da, caches), result, links = table[0]

    def not_loaded(*args):
        raise NameError("rnn_backward is not loaded")
    oracle = probe.Oracle("rnn_backward", table, not_loaded, lm.checks.RTOL, lm.checks.ATOL, shaped=True)
    assert all(np.array_equal(oracle(da, caches)[key], result[key]) for key in result)
    blank = oracle(da + 1.0, caches)
    assert set(blank) == set(result)
    assert all(np.shape(blank[key]) == np.shape(result[key]) and np.all(np.isnan(blank[key])) for key in result)
    with pytest.raises(NameError):
        oracle(np.zeros((99, 1, 1)), caches)  # no right call of these shapes: the student's own (here, not loaded)
    unshaped = probe.Oracle("rnn_backward", table, None, lm.checks.RTOL, lm.checks.ATOL)
    with pytest.raises(probe.OracleMiss):
        unshaped(da + 1.0, caches)  # a function of this assignment: no NaN stand-in


def test_the_oracles_answer_the_calls_a_known_mistake_makes():
    """So that an answer making the mistake gets the mistake's outputs in the kernel, and its name."""
    from autograder import reference
    lm = reference.named("char_language_model")
    request = hidden.request(lm, "rnn_train_step_values")
    loss_calls = request["oracles"]["temporal_softmax_loss"]
    scores_given = [args[0] for args, _, _ in loss_calls]
    # the mistake feeds the loss rnn_forward's probabilities: columns that sum to one
    assert any(np.allclose(s.sum(axis=0), 1.0) for s in scores_given)
    assert len(loss_calls) > len(lm.hidden_cases) + len(lm.checks.EXAMPLES)  # the right answer's, and more
