"""The hidden checks accept right answers (float32 ones too), reject real mistakes,
grade each function on its own, and never pass a missing function."""

import re

import numpy as np
import pytest

from autograder import hidden, probe, reference
from tests import mistakes
from tests.mistakes import student
from tests.helpers import RNN

CHECKS = [f"{f}_{k}" for f in RNN.dependencies for k in ("shapes", "values")]


def student_namespace(**replacements):
    """A notebook-like namespace: the reference functions, some replaced."""
    ref = mistakes.fresh_reference()
    namespace = ref["rnn_forward"].__globals__
    namespace.update(replacements)
    return namespace, ref


@pytest.mark.parametrize("grade_id", CHECKS)
def test_reference_passes(grade_id):
    namespace, _ = student_namespace()
    hidden.check(grade_id, namespace)


def test_float32_results_pass():
    ref = mistakes.fresh_reference()
    namespace, _ = student_namespace(rnn_cell_forward=mistakes.float32_cell_forward(ref))
    hidden.check("rnn_cell_forward_values", namespace)


def test_tanh_twice_fails_both_backward_value_checks():
    ref = mistakes.fresh_reference()
    namespace, _ = student_namespace(rnn_cell_backward=mistakes.tanh_twice(ref))
    with pytest.raises(AssertionError, match="rnn_cell_backward: wrong values"):
        hidden.check("rnn_cell_backward_values", namespace)
    hidden.check("rnn_cell_backward_shapes", namespace)


def test_rnn_backward_is_graded_on_a_correct_cell():
    """A wrong rnn_cell_backward costs its own points only."""
    ref = mistakes.fresh_reference()
    namespace, _ = student_namespace(rnn_cell_backward=mistakes.tanh_twice(ref))
    hidden.check("rnn_backward_values", namespace)


def test_rnn_forward_is_graded_on_a_correct_cell():
    ref = mistakes.fresh_reference()
    namespace, _ = student_namespace(rnn_cell_forward=mistakes.scaled(ref["rnn_cell_forward"]))
    with pytest.raises(AssertionError, match="rnn_cell_forward: wrong values in a_next"):
        hidden.check("rnn_cell_forward_values", namespace)
    hidden.check("rnn_forward_values", namespace)


@pytest.mark.parametrize("function", list(RNN.dependencies))
def test_wrong_values_fail_with_a_message_that_reveals_no_numbers(function):
    ref = mistakes.fresh_reference()
    namespace, _ = student_namespace(**{function: mistakes.scaled(ref[function])})
    with pytest.raises(AssertionError) as failure:
        hidden.check(f"{function}_values", namespace)
    message = str(failure.value)
    assert message.startswith(f"{function}: wrong values")
    # A relation may name the factor between the answer and the reference ("1.1 times"), not a value.
    assert not re.search(r"\d\.\d|seed", re.sub(r"\d+\.\d+ times", "", message)), message


def test_mutated_inputs_fail():
    ref = mistakes.fresh_reference()
    namespace, _ = student_namespace(rnn_cell_forward=mistakes.mutating_cell_forward(ref))
    with pytest.raises(AssertionError, match="changed its inputs"):
        hidden.check("rnn_cell_forward_values", namespace)


@pytest.mark.parametrize("grade_id", CHECKS)
def test_missing_function_fails(grade_id):
    with pytest.raises(AssertionError, match="is not defined"):
        hidden.check(grade_id, {})


def test_unimplemented_function_fails():
    def rnn_forward(x, a0, parameters):
        raise NotImplementedError()
    namespace, _ = student_namespace(rnn_forward=rnn_forward)
    with pytest.raises(NotImplementedError):
        hidden.check("rnn_forward_shapes", namespace)


def test_wrong_shapes_fail_the_shape_check():
    ref = mistakes.fresh_reference()

    def rnn_cell_forward(xt, a_prev, parameters):
        a_next, yt_pred, cache = ref["rnn_cell_forward"](xt, a_prev, parameters)
        return a_next.T, yt_pred, cache
    namespace, _ = student_namespace(rnn_cell_forward=rnn_cell_forward)
    with pytest.raises(AssertionError, match="a_next has shape"):
        hidden.check("rnn_cell_forward_shapes", namespace)


def test_hidden_cases_cover_the_edge_shapes():
    cases = RNN.hidden_cases
    assert any(c["m"] == 1 for c in cases) and any(c["T_x"] == 1 for c in cases)
    assert any(c["n_a"] != c["n_x"] for c in cases)
    assert 1 not in {c["seed"] for c in cases}, "hidden inputs must differ from the visible example (seed 1)"


def test_unknown_check_is_an_instructor_error():
    with pytest.raises(KeyError):
        hidden.check("rnn_forward_speed", {})


def test_lstm_backward_is_graded_on_a_correct_cell():
    """A wrong lstm_cell_backward costs its own points only."""
    with pytest.raises(AssertionError, match="lstm_cell_backward: wrong values in dc_prev"):
        hidden.check("lstm_cell_backward_values", student("lstm_dc_prev_without_ft"))
    hidden.check("lstm_backward_values", student("lstm_dc_prev_without_ft"))


def test_the_lstm_cache_is_checked_gate_by_gate():
    """lstm_cell_backward reads the gates from the cache: swapped ones cost the forward pass."""
    namespace = student()
    right = namespace["lstm_cell_forward"]

    def swapped(xt, a_prev, c_prev, parameters):
        a_next, c_next, yt_pred, cache = right(xt, a_prev, c_prev, parameters)
        return a_next, c_next, yt_pred, cache[:4] + (cache[5], cache[4]) + cache[6:]  # it before ft

    def short(xt, a_prev, c_prev, parameters):
        a_next, c_next, yt_pred, cache = right(xt, a_prev, c_prev, parameters)
        return a_next, c_next, yt_pred, cache[:-1]
    namespace["lstm_cell_forward"] = swapped
    with pytest.raises(AssertionError, match="lstm_cell_forward: wrong values in ft"):
        hidden.check("lstm_cell_forward_values", namespace)
    namespace["lstm_cell_forward"] = short
    with pytest.raises(AssertionError, match=r"lstm_cell_forward's cache must be the tuple \(a_next, c_next, a_prev"):
        hidden.check("lstm_cell_forward_shapes", namespace)


def test_each_functions_hidden_inputs_depend_on_its_name_alone():
    """They depended on the function's place in the list: declaring an exercise before it would
    have changed its hidden inputs."""
    offsets = [hidden.seed_offset(name) for name in RNN.dependencies]
    assert len(set(offsets)) == len(offsets)
    before = hidden.inputs(RNN, "lstm_forward", hidden.FIXED)[1]
    reordered = dict(reversed(list(RNN.dependencies.items())))
    original = RNN.dependencies
    try:
        RNN.dependencies = reordered
        hidden.drawn.cache_clear()  # drawn again, not remembered
        after = hidden.inputs(RNN, "lstm_forward", hidden.FIXED)[1]
    finally:
        RNN.dependencies = original
    assert all(np.array_equal(a, b) for a, b in zip(before[:2], after[:2]))


def request_arrays(draw, grade_id="rnn_forward_values"):
    """Every array of `grade_id`'s hidden inputs for the submission whose draw is `draw`."""
    arrays = []
    probe.encode(hidden.request(RNN, grade_id, draw)["cases"], arrays, max_depth=32)
    return arrays


def test_each_submission_draws_hidden_inputs_of_its_own():
    """Answers a kernel asked the grader for, on hidden inputs it read, and printed (feedback shows
    what the visible tests print), answer no other submission: another submission, or the same one
    under another course's key, gets other inputs; the same files under the same key, the same."""
    key, other_key = bytes(range(32)), bytes(range(1, 33))
    files = {"1_rnn_cell_forward.ipynb": b'{"cells": []}', "timestamp.txt": b"2026-11-20 17:00:00 UTC\n"}
    draw = hidden.submission_draw(key, files)
    others = [hidden.submission_draw(key, {**files, "1_rnn_cell_forward.ipynb": b'{"cells": [] }'}),  # one space
              hidden.submission_draw(key, {**files, "extra.py": b""}),                               # one more file
              hidden.submission_draw(key, {"2_rnn_forward.ipynb" if n.startswith("1_") else n: v  # renamed
                                           for n, v in files.items()}),
              hidden.submission_draw(other_key, files), hidden.FIXED]
    assert hidden.submission_draw(key, dict(reversed(files.items()))) == draw  # the files, not their order
    assert len({draw, *others}) == len(others) + 1 and draw.bit_length() > 128
    mine = request_arrays(draw)
    assert all(np.array_equal(a, b) for a, b in zip(mine, request_arrays(draw)))  # graded again: the same
    for other in others:
        theirs = request_arrays(other)
        assert [a.shape for a in theirs] == [a.shape for a in mine]  # the same kinds of input...
        assert not any(np.allclose(a, b) for a, b in zip(mine, theirs) if a.size)  # ...none of the same values


def test_the_draw_covers_every_file_of_the_submitted_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "1_rnn_cell_forward.ipynb").write_bytes(b"{}")
    (tmp_path / "images" / "cell.png").write_bytes(b"png")
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "1_rnn_cell_forward.ipynb")
    assert hidden.folder_files(tmp_path) == {"1_rnn_cell_forward.ipynb": b"{}", "images/cell.png": b"png"}


def test_a_course_key_is_made_once_and_kept_from_others(tmp_path):
    key = hidden.course_key(tmp_path)
    assert len(key) == hidden.KEY_BYTES and hidden.course_key(tmp_path) == key
    assert (tmp_path / hidden.KEY).stat().st_mode & 0o777 == 0o600
    assert hidden.course_key(tmp_path, given=b"k" * 32) == b"k" * 32 == hidden.course_key(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [hidden.KEY]  # no half-made key left behind
    (tmp_path / hidden.KEY).write_bytes(b"short")
    with pytest.raises(ValueError, match="delete it"):
        hidden.course_key(tmp_path)


def first_attempt(a, function, draw):
    """The hidden inputs of `function` as `draw`'s first attempt makes them."""
    ref, feeder = a.load(), a.checks.FEEDERS.get(function)
    return tuple(tuple(a.checks.exercise_arguments(
        function, a.checks.example_inputs(**dict(case, seed=hidden.case_seed(case, function, draw))),
        getattr(ref, feeder) if feeder else None)) for case in a.hidden_cases)


@pytest.mark.parametrize("name", reference.assignments())
def test_the_fixed_draw_is_the_hidden_cases_as_chosen(name):
    """Its first attempt tells every declared mistake from the right answer: hidden.check (nbval, a
    student's own run) and the tests judge on the inputs the hidden cases were chosen for."""
    a = reference.named(name)
    for function in a.functions:
        first = first_attempt(a, function, hidden.FIXED)
        assert hidden.tells_every_mistake(a, function, first), function
        assert a.checks.same_structure(hidden.inputs(a, function, hidden.FIXED), first), function


def test_a_draw_that_would_pass_a_mistake_is_drawn_again():
    """Draw 64's first attempt at rnn_cell_forward's inputs has scores close enough together that
    subtracting the global maximum underflows no example: a softmax written so passed every hidden
    case. A student resubmitting until such a draw came would have gained the points; the draw is
    made again, and the mistake fails, named."""
    draw, grade_id = 64, "rnn_cell_forward_values"
    assert not hidden.tells_every_mistake(RNN, "rnn_cell_forward", first_attempt(RNN, "rnn_cell_forward", draw))
    namespace = student("softmax_global_max")
    replies = probe.run(hidden.request(RNN, grade_id, draw), namespace, hidden.local_answer(RNN))
    assert "Known mistake: softmax with the global max." in hidden.verdict(RNN, grade_id, replies, draw)
    assert hidden.tells_every_mistake(RNN, "rnn_cell_forward", hidden.inputs(RNN, "rnn_cell_forward", draw))
