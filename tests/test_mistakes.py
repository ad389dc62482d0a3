"""Feedback that teaches: for every known mistake, code written the way a student writes it
makes both the visible test (in the notebook) and the hidden test (in the grader) name it;
a right answer gets no hint; and each mistake is one the examples can tell apart."""

import re

import numpy as np
import pytest

from autograder import hidden, mistakes
from tests.mistakes import STUDENT_EDITS, student, visible
from tests.helpers import RNN

rnn_utils = RNN.utils
ALL = {m.id: m for m in (*RNN.mistakes, mistakes.INPUT_MUTATED)}
SHAPE_MISTAKES = {"dwax_dwaa_swapped", "bias_without_keepdims", "bias_wrong_axis"}


@pytest.fixture(autouse=True)
def beside_the_notebooks(monkeypatch):
    """Visible tests read visible_expected.json from the working folder, as in a notebook."""
    monkeypatch.chdir(RNN.source)


def test_every_known_mistake_has_a_student_edit():
    assert set(STUDENT_EDITS) == set(ALL)


@pytest.mark.parametrize("mistake_id", sorted(STUDENT_EDITS))
def test_visible_test_names_the_mistake(mistake_id, capsys):
    mistake, (function, *_) = ALL[mistake_id], STUDENT_EDITS[mistake_id]
    with pytest.raises(AssertionError) as failure:
        visible("values", function, student(mistake_id))
    message = str(failure.value)
    assert f"Known mistake: {mistake.name}. {mistake.hint}" in message, message
    if mistake_id in SHAPE_MISTAKES:
        with pytest.raises(AssertionError, match=re.escape(f"Known mistake: {mistake.name}.")):
            visible("shapes", function, student(mistake_id))


@pytest.mark.parametrize("mistake_id", sorted(STUDENT_EDITS))
def test_hidden_test_names_the_mistake_without_revealing_numbers(mistake_id):
    mistake, (function, *_) = ALL[mistake_id], STUDENT_EDITS[mistake_id]
    with pytest.raises(AssertionError) as failure:
        hidden.check(f"{function}_values", student(mistake_id))
    message = str(failure.value)
    assert f"Known mistake: {mistake.name}." in message, message
    assert not re.search(r"-?\d+\.\d+", message.split("Known mistake")[0]), message
    if mistake_id in SHAPE_MISTAKES:
        with pytest.raises(AssertionError, match=re.escape(f"Known mistake: {mistake.name}.")):
            hidden.check(f"{function}_shapes", student(mistake_id))


@pytest.mark.parametrize("function", RNN.functions)
@pytest.mark.parametrize("kind", ["shapes", "values"])
def test_a_right_answer_gets_no_hint(function, kind, capsys):
    namespace = student()
    visible(kind, function, namespace)
    hidden.check(f"{function}_{kind}", namespace)
    assert "Known mistake" not in capsys.readouterr().out


def test_visible_message_says_what_came_out_and_what_was_expected():
    with pytest.raises(AssertionError) as failure:
        visible("values", "rnn_cell_backward", student("tanh_twice"))
    assert re.match(r'Wrong values in gradients\["\w+"\]: at index \(\d+, \d+\) you have -?\d+\.\d{6}, '
                    r"expected -?\d+\.\d{6}\. Known mistake: tanh applied twice\.", str(failure.value))


def test_a_shape_error_from_swapped_weights_is_named():
    """Waa @ xt fails on n_x != n_a: the test explains the ValueError instead of showing it bare."""
    with pytest.raises(AssertionError, match=r"rnn_cell_forward raised ValueError: .*Known mistake: Waa and Wax"):
        visible("shapes", "rnn_cell_forward", student("waa_wax_swapped"))


def test_a_mistake_in_an_earlier_function_is_named_in_the_later_visible_test():
    """rnn_forward calls the student's own rnn_cell_forward in the notebook."""
    with pytest.raises(AssertionError, match="Known mistake: yt_pred computed from a_prev"):
        visible("values", "rnn_forward", student("yt_from_a_prev"))
    with pytest.raises(AssertionError, match="Known mistake: tanh applied twice"):
        visible("values", "rnn_backward", student("tanh_twice"))


def test_the_grader_grades_later_functions_on_correct_earlier_ones():
    hidden.check("rnn_backward_values", student("tanh_twice"))
    hidden.check("rnn_forward_values", student("yt_from_a_prev"))


def test_two_mistakes_at_once_are_not_misnamed():
    with pytest.raises(AssertionError) as failure:
        visible("values", "rnn_cell_backward", student("tanh_twice", "missing_transpose_waa"))
    assert "Known mistake" not in str(failure.value)


@pytest.mark.parametrize("mistake", RNN.mistakes, ids=lambda m: m.id)
def test_each_mistake_shows_on_the_examples_and_the_hidden_cases(mistake):
    """A mistake no example tells apart from the right answer could never be named (or would
    be named for a right answer)."""
    ref = RNN.load()
    wrong = dict(mistakes.candidates(RNN, mistake.function))[mistake]
    feeder = rnn_utils.FEEDERS.get(mistake.function)

    def differs(ex):
        args = rnn_utils.exercise_arguments(mistake.function, ex, getattr(ref, feeder) if feeder else None)
        right = rnn_utils.exercise_outputs(mistake.function, getattr(ref, mistake.function)(*args))
        return not rnn_utils.outputs_match(mistakes.behaviour(
            lambda: rnn_utils.exercise_outputs(mistake.function, wrong(*args))), right)
    judged = [name for name in rnn_utils.EXAMPLES if mistake.stability or name != rnn_utils.LARGE_SCORES]
    assert any(differs(rnn_utils.example_inputs(**rnn_utils.EXAMPLES[name])) for name in judged)
    cases = [case for i, case in enumerate(RNN.hidden_cases) if mistake.stability or i != RNN.large_hidden_case]
    assert any(differs(rnn_utils.example_inputs(**case)) for case in cases)


@pytest.mark.parametrize("cell", ["rnn_cell_backward", "lstm_cell_backward"])
def test_the_mistake_models_walk_time_like_the_reference_when_right(cell):
    """_backward_loop builds the backward-loop mistakes; reversed with both carries it is the answer."""
    ns = student()
    right = RNN.grading._backward_loop(cell, RNN.grading._backwards)(ns)
    backward = cell.replace("_cell", "")
    forward = rnn_utils.FEEDERS[backward]
    ex = rnn_utils.example_inputs(seed=4)
    caches = ns[forward](*rnn_utils.exercise_arguments(forward, ex))[-1]
    assert rnn_utils.outputs_match(right(ex["da"], caches), ns[backward](ex["da"], caches))


def test_the_large_score_example_overflows_a_naive_softmax():
    ex = rnn_utils.example_inputs(**rnn_utils.EXAMPLES[rnn_utils.LARGE_SCORES])
    a_next, yt_pred, _ = RNN.load().rnn_cell_forward(*rnn_utils.exercise_arguments("rnn_cell_forward", ex))
    assert np.all(np.isfinite(yt_pred))
    with np.errstate(all="ignore"):
        wrong = student("softmax_global_max")["rnn_cell_forward"](*rnn_utils.exercise_arguments("rnn_cell_forward", ex))
    assert not np.all(np.isfinite(wrong[1]))


def test_gradient_check_passes_a_right_backward_pass(capsys):
    ns = student()
    for forward, backward, keys in (("rnn_cell_forward", "rnn_cell_backward", RNN.checks.declared["GRADIENT_KEYS_CELL"]),
                                    ("rnn_forward", "rnn_backward", RNN.checks.declared["GRADIENT_KEYS"])):
        errors = rnn_utils.gradient_check(ns[forward], ns[backward])
        assert set(errors) == set(keys) and all(error < 1e-7 for error in errors.values())
    for forward, backward in (("lstm_cell_forward", "lstm_cell_backward"), ("lstm_forward", "lstm_backward")):
        errors = rnn_utils.gradient_check(ns[forward], ns[backward])
        assert set(errors) == set(rnn_utils.OUTPUTS[backward]) and all(error < 1e-7 for error in errors.values())
    out = capsys.readouterr().out
    assert out.count("All 5 gradients agree with finite differences") == 2 and "WRONG" not in out
    assert "All 11 gradients agree" in out and "All 10 gradients agree" in out


@pytest.mark.parametrize("mistake_id, off", [
    ("tanh_twice", set(RNN.checks.declared["GRADIENT_KEYS_CELL"])),
    ("missing_transpose_waa", {"da_prev"}),
    ("da_next_forgotten", set(RNN.checks.declared["GRADIENT_KEYS_CELL"])),
    ("dwax_dwaa_swapped", {"dWax", "dWaa"}),  # their shapes are wrong: no number to compare
])
def test_gradient_check_says_which_cell_gradient_is_off(mistake_id, off, capsys):
    ns = student(mistake_id)
    errors = rnn_utils.gradient_check(ns["rnn_cell_forward"], ns["rnn_cell_backward"])
    assert {key for key, error in errors.items() if error is None or error >= 1e-7} == off
    out = capsys.readouterr().out
    assert f"{len(off)} of 5 gradients disagree with finite differences" in out
    for key in off:
        assert f"{key:8s} " + ("MISSING or wrong shape" if errors[key] is None else "WRONG: relative error") in out


@pytest.mark.parametrize("mistake_id, off", [
    ("time_forwards", {"dx", "da0", "dWax", "dWaa", "dba"}),
    ("da_prevt_not_carried", {"dx", "da0", "dWax", "dWaa", "dba"}),
])
def test_gradient_check_of_the_sequence(mistake_id, off, capsys):
    ns = student(mistake_id)
    errors = rnn_utils.gradient_check(ns["rnn_forward"], ns["rnn_backward"])
    assert {key for key, error in errors.items() if error is None or error >= 1e-7} == off


@pytest.mark.parametrize("mistake_id, forward, backward, off", [
    ("lstm_dc_next_forgotten", "lstm_cell_forward", "lstm_cell_backward", set(rnn_utils.OUTPUTS["lstm_cell_backward"])
     - {"dWo", "dbo"}),  # the output gate's road does not go through the memory
    ("lstm_dc_prev_without_ft", "lstm_cell_forward", "lstm_cell_backward", {"dc_prev"}),
    ("lstm_dc_prevt_not_carried", "lstm_forward", "lstm_backward", set(rnn_utils.OUTPUTS["lstm_backward"])),
])
def test_gradient_check_of_the_lstm_names_the_gradients_off(mistake_id, forward, backward, off, capsys):
    ns = student(mistake_id)
    errors = rnn_utils.gradient_check(ns[forward], ns[backward])
    assert {key for key, error in errors.items() if error is None or error >= 1e-7} == off


def test_gradient_check_needs_a_forward_pass_it_knows():
    with pytest.raises(ValueError, match="rnn_cell_forward and rnn_cell_backward"):
        rnn_utils.gradient_check(print, print)
