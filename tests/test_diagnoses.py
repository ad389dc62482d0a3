"""Feedback that never misleads (issue 16): a wrong cache loses its points and says which step
is wrong, an error is reported as the error (never as a known mistake), and a failing visible
test shows its message in a few lines."""

import re

import numpy as np
import pytest

from autograder import hidden, reference
from tests.mistakes import student

rnn_utils = reference.rnn_utils


@pytest.fixture(autouse=True)
def beside_the_notebooks(monkeypatch):
    """Visible tests read visible_expected.json from the working folder, as in a notebook."""
    monkeypatch.chdir(reference.SOURCE)


def visible(kind, function, namespace):
    check = getattr(rnn_utils, f"check_{function}_{kind}")
    feeder = rnn_utils.FEEDERS.get(function)
    return check(namespace[function], namespace[feeder]) if feeder else check(namespace[function])


WRONG_CACHES = [
    ("lstm_c_view", "lstm_forward", r"caches\[0\]\[0\] \(the cache of step 0\) holds a wrong c_prev.* "
                                    r"It holds step 0's c_next: the cache kept a view"),
    ("a0_cached_every_step", "rnn_forward", r"caches\[0\]\[1\] \(the cache of step 1\) holds a wrong a_prev.* "
                                            r"It holds step 0's a_prev: each step's cache must keep"),
    ("last_cache_only", "rnn_forward", r"caches\[0\] must be the list of the \d caches of rnn_cell_forward, "
                                       r"one per time step.*; it is one step's cache"),
]


@pytest.mark.parametrize("wrong, function, message", WRONG_CACHES)
def test_a_wrong_cache_fails_the_visible_values_test(wrong, function, message, capsys):
    with pytest.raises(AssertionError, match=message):
        visible("values", function, student(wrong))


@pytest.mark.parametrize("wrong, function, message", WRONG_CACHES)
def test_a_wrong_cache_loses_the_hidden_values_points(wrong, function, message):
    with pytest.raises(AssertionError, match=message) as failure:
        hidden.check(f"{function}_values", student(wrong))
    assert "for a hidden input" in str(failure.value)
    assert not re.search(r"-?\d+\.\d+", str(failure.value)), "a hidden test's message reveals no number"


@pytest.mark.parametrize("function", ["rnn_forward", "lstm_forward"])
def test_right_caches_pass(function, capsys):
    namespace = student()
    visible("values", function, namespace)
    hidden.check(f"{function}_values", namespace)


def test_the_backward_test_blames_a_wrong_cache_on_the_forward_pass():
    with pytest.raises(AssertionError, match=r"holds a wrong c_prev.* Fix exercises 1 and 2 of this notebook first"):
        visible("values", "lstm_backward", student("lstm_c_view"))
