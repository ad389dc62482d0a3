"""The probe's reply is plain data, and verdicts on it cannot be faked from the kernel."""

import base64
import json

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
    return probe.run(hidden.request(RNN, grade_id, hidden.FIXED), {function_name: student}, hidden.local_answer(RNN))


def roundtrip(tmp_path, replies):
    return probe.loads(probe.dumps(replies))


@pytest.mark.parametrize("function", list(RNN.dependencies))
def test_reference_replies_pass_and_wrong_ones_fail(tmp_path, function):
    ref = mistakes.fresh_reference()
    for kind in ("shapes", "values"):
        grade_id = f"{function}_{kind}"
        assert hidden.verdict(RNN, grade_id, roundtrip(tmp_path, replies_from(function, ref[function], grade_id)),
                              hidden.FIXED) is None
    wrong = roundtrip(tmp_path, replies_from(function, mistakes.scaled(ref[function]), f"{function}_values"))
    assert hidden.verdict(RNN, f"{function}_values", wrong, hidden.FIXED).startswith(f"{function}: wrong values")


def test_a_reply_that_lies_about_equality_fails(tmp_path):
    replies = [{"result": (AlwaysEqual(), AlwaysEqual(), AlwaysEqual()), "args_after": ()}
               for _ in RNN.hidden_cases]
    message = hidden.verdict(RNN, "rnn_cell_forward_values", roundtrip(tmp_path, replies), hidden.FIXED)
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
    assert message in hidden.verdict(RNN, "rnn_forward_values", replies, hidden.FIXED)


def test_the_request_carries_no_expected_value_no_answer_and_no_source():
    """The cases' arguments and the dependencies' names: no answer of any function, which student
    code in the kernel could read (the grader answers the dependencies' calls, one by one)."""
    request = hidden.request(RNN, "rnn_backward_values", hidden.FIXED)
    assert set(request) == {"function", "cases", "oracles", "signatures"}
    # what the reference rnn_backward calls, and the forward pass its visible tests take the cache from
    assert set(request["oracles"]) == set(RNN.dependencies["rnn_backward"]) >= {"rnn_cell_backward", "rnn_forward"}
    assert request["signatures"]["rnn_cell_backward"] == ["da_next", "cache"]
    for grade_id in [f"{f}_{kind}" for f in RNN.dependencies for kind in ("shapes", "values")]:
        text = probe.dumps(hidden.request(RNN, grade_id, hidden.FIXED), max_depth=32)
        assert "Unknown" not in repr(probe.loads(text)), grade_id
        assert "def " not in text and "SOLUTION" not in text and "return" not in text, grade_id
        cases = hidden.request(RNN, grade_id, hidden.FIXED)["cases"]
        arrays = []
        probe.encode(cases, arrays, max_depth=32)
        assert json.loads(text)["shapes"] == [list(a.shape) for a in arrays], grade_id  # the cases' arrays, no more


def test_no_two_functions_share_a_hidden_input():
    seen = {}
    for function in RNN.dependencies:
        for args in hidden.inputs(RNN, function, hidden.FIXED):
            key = np.asarray(args[0]).tobytes()
            assert key not in seen, (function, seen.get(key))
            seen[key] = function


def test_an_oracle_answers_any_call_with_the_reference_and_binds_keywords_as_python_does():
    ref = RNN.load()
    oracle = probe.Oracle("rnn_cell_forward", RNN.parameters("rnn_cell_forward"), hidden.local_answer(RNN))
    ex = RNN.checks.example_inputs(seed=42, m=2)
    xt, a_prev, parameters = ex["x"][:, :, 0], ex["a0"], ex["parameters"]
    expected = ref.rnn_cell_forward(xt, a_prev, parameters)
    for got in (oracle(xt, a_prev, parameters), oracle(xt, a_prev=a_prev, parameters=parameters),
                oracle(parameters=parameters, xt=xt.astype(np.float32), a_prev=a_prev)):
        assert all(np.allclose(a, b) for a, b in zip(got[:2], expected[:2]))
    for call, says in ((lambda: oracle(xt, a_prev), "missing required argument 'parameters'"),
                       (lambda: oracle(xt, a_prev, parameters, xt=xt), "multiple values for argument 'xt'"),
                       (lambda: oracle(xt, a_prev, parameters, p=1), "unexpected keyword argument 'p'")):
        with pytest.raises(TypeError, match=says):
            call()


def test_an_oracle_keeps_the_callers_own_arguments_in_the_cache_as_a_cell_does():
    """A cell's cache holds its arguments themselves: an answer that writes into an array after
    passing it (a view it keeps) must see that write in the cache, with an oracle as with a cell."""
    oracle = probe.Oracle("lstm_cell_forward", RNN.parameters("lstm_cell_forward"), hidden.local_answer(RNN))
    ex = RNN.checks.example_inputs(seed=43)
    mine = [ex["x"][:, :, 0].copy(), ex["a0"].copy(), np.zeros_like(ex["a0"]), ex["lstm_parameters"]]
    cache = oracle(*mine)[-1]
    assert cache[2] is mine[1] and cache[3] is mine[2] and cache[8] is mine[0] and cache[9] is mine[3]


def test_the_namespace_is_as_it_was_after_a_probe():
    ref = RNN.load()
    own = object()
    namespace = {"rnn_backward": ref.rnn_backward, "rnn_cell_forward": own}
    replies = probe.run(hidden.request(RNN, "rnn_backward_values", hidden.FIXED), namespace, hidden.local_answer(RNN))
    assert hidden.verdict(RNN, "rnn_backward_values", replies, hidden.FIXED) is None
    assert namespace == {"rnn_backward": ref.rnn_backward, "rnn_cell_forward": own}


# --- the grader's end of the line (autograder/oracles.py) -------------------------------------

@pytest.fixture
def server(tmp_path):
    from autograder import oracles
    return oracles.OracleServer(tmp_path)


def test_the_grader_answers_a_dependency_only_while_its_test_cell_runs(server, tmp_path):
    """Through the socket, as a kernel calls: the dependencies of the function whose test cell
    runs are answered; outside a test cell, the function itself, or another's dependency are not
    (a stashed oracle gains nothing in a later cell); nor is a dependency whose own test cells are
    still to come (a cell moved before them would ask for their answers on their hidden inputs)."""
    from autograder import reference
    lm = reference.named("char_language_model")
    line = probe.GraderLine(str(tmp_path))
    ex = lm.checks.example_inputs()
    x, a0, parameters = ex["x"], ex["a0"], ex["parameters"]
    with pytest.raises(probe.OracleMiss, match="no test cell"):
        line("rnn_forward", (x, a0, parameters))
    with server.scope(lm, "rnn_train_step", hidden.FIXED):
        result, links = line("rnn_forward", (x, a0, parameters))
        expected = lm.reference("rnn_forward")(x, a0, parameters)
        assert np.allclose(result[0], expected[0]) and np.allclose(result[1], expected[1])
        for name in ("rnn_train_step", "train_char_model", "sample_characters"):
            with pytest.raises(probe.OracleMiss, match="may not be called in this test cell"):
                line(name, (x,))
        with pytest.raises(probe.OracleMiss, match=r"^rnn_forward raised ValueError on these arguments$"):
            line("rnn_forward", (x[:2], a0, parameters))  # the reference's error: its name, never its text
    with pytest.raises((OSError, EOFError)):
        line("rnn_forward", (x, a0, parameters))  # the cell ended: its line was closed
    step_args = lm.checks.exercise_arguments("rnn_train_step", ex)
    with server.scope(lm, "train_char_model", hidden.FIXED, pending={"rnn_train_step"}):
        with pytest.raises(probe.OracleMiss, match="may not be called in this test cell"):
            probe.GraderLine(str(tmp_path))("rnn_train_step", step_args)  # each cell's probe opens its line
    with server.scope(lm, "train_char_model", hidden.FIXED):
        result, _ = probe.GraderLine(str(tmp_path))("rnn_train_step", step_args)
        assert np.allclose(result[0], lm.reference("rnn_train_step")(*step_args)[0])


def test_the_grader_reads_a_hostile_line_within_limits(server, tmp_path):
    import socket
    from autograder import oracles, reference
    lm = reference.named("char_language_model")

    def raw(data):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(server.path))
            s.sendall(data)
            try:
                return probe.loads(probe.receive(s, 2 ** 30).decode())
            except EOFError:
                return "closed"

    def call(name, args):
        text = probe.dumps({"name": name, "args": args})
        return raw(len(text).to_bytes(8, "big") + text.encode())
    assert server._peer_uid  # the sandbox's user alone may connect (SO_PEERCRED)
    with server.scope(lm, "rnn_train_step", hidden.FIXED):
        assert raw((10 ** 12).to_bytes(8, "big")) == "closed"  # a length past the limit: not read
        assert raw(len(b"{x").to_bytes(8, "big") + b"{x")["error"] == "the call is not what the probe sends"
        # A call as long as the cell's inputs allow costs what theirs cost: a longer one is refused,
        # even with no number in it (a forward pass over a million empty steps).
        ex = lm.checks.example_inputs()
        for x in (np.zeros((0, 1, 10 ** 6)), np.zeros((5, 3, 1000))):
            assert "larger than this test's inputs" in call("rnn_forward", [x, ex["a0"], ex["parameters"]])["error"]
        server._scope.spent = oracles.BUDGET_SECONDS + 1
        assert "used up" in call("clip_gradients", [{"dWax": np.ones((2, 2))}, 1.0])["error"]
