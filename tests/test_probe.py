"""The probe's reply is plain data, and verdicts on it cannot be faked from the kernel."""

import numpy as np
import pytest

from autograder import hidden, probe, reference
from tests import mistakes


def test_plain_data_round_trips(tmp_path):
    value = {"a": (np.arange(3.0), [1, 2.5, None, "x"]), "b": np.float32(2.0)}
    probe.save(str(tmp_path / "v"), value)
    back = probe.load(str(tmp_path / "v"))
    assert np.array_equal(back["a"][0], np.arange(3.0)) and back["a"][1] == [1, 2.5, None, "x"]
    assert back["b"].dtype == np.float64 and float(back["b"]) == 2.0


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __array__(self, *args, **kwargs):
        raise TypeError("no")


def test_objects_that_claim_equality_become_data_that_equals_nothing(tmp_path):
    probe.save(str(tmp_path / "v"), (AlwaysEqual(), np.ones(2)))
    back = probe.load(str(tmp_path / "v"))
    assert isinstance(back[0], probe.Unknown) and not (back[0] == 1)


def test_pickles_are_refused(tmp_path):
    stem = tmp_path / "evil"
    (tmp_path / "evil.json").write_text('{"structure": {"array": 0}, "shapes": [[1]]}')
    np.save(str(stem) + ".npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        probe.load(str(stem))


@pytest.mark.parametrize("shapes", ['[[5]]', '[[-1, -2]]', '[[2], [2]]', '[["x"]]', '[{"a": 1}]', '5'])
def test_shapes_the_values_do_not_fill_are_refused(tmp_path, shapes):
    """A kernel may write any JSON beside three values: nothing it writes gets past ValueError."""
    stem = tmp_path / "lying"
    np.save(str(stem) + ".npy", np.arange(3.0))
    (tmp_path / "lying.json").write_text('{"structure": {"array": 0}, "shapes": %s}' % shapes)
    with pytest.raises(ValueError):
        probe.load(str(stem))
    (tmp_path / "lying.json").write_text(shapes)  # not even the document's outline
    with pytest.raises(ValueError):
        probe.load(str(stem))


def test_many_arrays_round_trip_in_order(tmp_path):
    value = [np.full((i % 3 + 1, 2), float(i)) for i in range(50)] + [np.zeros((0, 4)), np.float64(7.0)]
    probe.save(str(tmp_path / "v"), value)
    back = probe.load(str(tmp_path / "v"))
    assert len(back) == 52 and all(np.array_equal(a, b) for a, b in zip(back, value))
    assert back[50].shape == (0, 4) and back[51].shape == ()


def replies_from(function_name, student, grade_id):
    """What the probe would write for `student`, computed here without a kernel."""
    request = hidden.request(grade_id)
    out = []
    for args in request["cases"]:
        args = list(args)
        out.append({"result": student(*args), "args_after": tuple(args)})
    return out


def roundtrip(tmp_path, replies):
    probe.save(str(tmp_path / "reply"), replies)
    return probe.load(str(tmp_path / "reply"))


@pytest.mark.parametrize("function", list(hidden.DEPENDENCIES))
def test_reference_replies_pass_and_wrong_ones_fail(tmp_path, function):
    ref = mistakes.fresh_reference()
    for kind in ("shapes", "values"):
        grade_id = f"{function}_{kind}"
        assert hidden.verdict(grade_id, roundtrip(tmp_path, replies_from(function, ref[function], grade_id))) is None
    wrong = roundtrip(tmp_path, replies_from(function, mistakes.scaled(ref[function]), f"{function}_values"))
    assert hidden.verdict(f"{function}_values", wrong).startswith(f"{function}: wrong values")


def test_a_reply_that_lies_about_equality_fails(tmp_path):
    replies = [{"result": (AlwaysEqual(), AlwaysEqual(), AlwaysEqual()), "args_after": ()}
               for _ in hidden.HIDDEN_CASES]
    message = hidden.verdict("rnn_cell_forward_values", roundtrip(tmp_path, replies))
    assert message and "rnn_cell_forward" in message


@pytest.mark.parametrize("replies, message", [
    ([], "the hidden tests did not complete"),
    ("passed", "the hidden tests did not complete"),
    ([{"error": "missing"}] * len(hidden.HIDDEN_CASES), "is not defined"),
    ([{"error": "NotImplementedError"}] * len(hidden.HIDDEN_CASES), "is not implemented yet"),
    ([{"error": "ZeroDivisionError"}] * len(hidden.HIDDEN_CASES), "raised ZeroDivisionError for a hidden input"),
])
def test_incomplete_or_failing_replies_fail(replies, message):
    assert message in hidden.verdict("rnn_forward_values", replies)


def test_the_request_carries_no_expected_value():
    request = hidden.request("rnn_backward_values")
    assert set(request) == {"function", "cases", "dependencies"}
    assert set(request["dependencies"]) == set(hidden.DEPENDENCIES["rnn_backward"])
    assert "def rnn_backward" not in "".join(request["dependencies"].values())
    assert reference.sources(["rnn_cell_forward"])["rnn_cell_forward"].startswith("def rnn_cell_forward")
