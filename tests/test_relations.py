"""rnn_relations names how a wrong answer relates to the reference (transposed, negated,
scaled, in another output's slot, a time step off, right at one step only, right but for
one output or one gate), for the mistakes no list of known mistakes holds.

The family tests build each relation from random arrays of the series' shapes. The
real-mistake tests edit the reference's solution cells the way students write their
mistakes and check that the sentence names what went wrong: they are the proof that
the families show on real code. Every sentence is checked to hold no expected number.
"""

import copy
import time

import numpy as np
import pytest

import rnn_relations
from tests.helpers import RNN

rnn_utils = RNN.utils
relation = rnn_relations.relation

N_X, N_A, N_Y, M, T_X = 3, 5, 2, 10, 4


def gradients_label(name):
    return f'gradients["{name}"]'


def no_expected_number(sentence, expected):
    """Whether `sentence` shows none of the expected entries, as the tests print them or rounder."""
    for value in expected.values():
        for entry in np.asarray(value, dtype=np.float64).ravel():
            for shown in (f"{entry:.6f}", f"{entry:.4f}", f"{entry:.3f}"):
                if shown.lstrip("-") not in ("0.000", "0.0000", "0.000000") and shown in sentence:
                    return False
    return True


def said(got, expected, label=gradients_label, m=M, T_x=T_X):
    """relation(...), checked to be a short sentence without an expected number when it is one."""
    sentence = relation(got, expected, label, m=m, T_x=T_x)
    if sentence is not None:
        assert isinstance(sentence, str) and len(sentence) <= rnn_relations.LIMIT, sentence
        assert no_expected_number(sentence, expected), sentence
    return sentence


# --------------------------------------------------------------------------
# Each family, built from random arrays
# --------------------------------------------------------------------------

def rnn_gradients(seed=0, n_x=N_X, n_a=N_A, m=M, T_x=T_X):
    """Random arrays with the shapes of rnn_backward's gradients, in its order."""
    rng = np.random.default_rng(seed)
    return {"dx": rng.standard_normal((n_x, m, T_x)), "da0": rng.standard_normal((n_a, m)),
            "dWax": rng.standard_normal((n_a, n_x)), "dWaa": rng.standard_normal((n_a, n_a)),
            "dba": rng.standard_normal((n_a, 1))}


def lstm_gradients(seed=0, n_x=N_X, n_a=N_A, m=M):
    """Random arrays with the shapes of lstm_cell_backward's gradients, in its order."""
    rng = np.random.default_rng(seed)
    gradients = {"dxt": rng.standard_normal((n_x, m)), "da_prev": rng.standard_normal((n_a, m)),
                 "dc_prev": rng.standard_normal((n_a, m))}
    for gate in "fico":
        gradients[f"dW{gate}"] = rng.standard_normal((n_a, n_a + n_x))
        gradients[f"db{gate}"] = rng.standard_normal((n_a, 1))
    return gradients


def forward_outputs(seed=0, n_a=N_A, n_y=N_Y, m=M, T_x=T_X):
    """rnn_forward's outputs: a in (-1, 1), y_pred columns summing to 1."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n_y, m, T_x))
    return {"a": np.tanh(rng.standard_normal((n_a, m, T_x))),
            "y_pred": np.exp(scores) / np.exp(scores).sum(axis=0, keepdims=True)}


def changed(expected, **outputs):
    return {**expected, **outputs}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_transposed_matrix_non_square():
    e = rnn_gradients()
    assert said(changed(e, dWax=e["dWax"].T), e) == \
        'gradients["dWax"] is transposed (rows and columns swapped); everything else is right.'


def test_transposed_matrix_square():
    e = rnn_gradients()
    assert said(changed(e, dWaa=e["dWaa"].T), e) == \
        'gradients["dWaa"] is transposed (rows and columns swapped); everything else is right.'


def test_transposed_column():
    e = rnn_gradients()
    assert said(changed(e, dba=e["dba"].T), e).startswith('gradients["dba"] is transposed')


def test_opposite_sign_everywhere():
    e = rnn_gradients()
    assert said({key: -value for key, value in e.items()}, e) == \
        "Every output has the expected values with the opposite sign."


def test_opposite_sign_of_two():
    e = rnn_gradients()
    assert said(changed(e, dWax=-e["dWax"], dWaa=-e["dWaa"]), e) == \
        'gradients["dWax"] and gradients["dWaa"] have the expected values with the opposite sign.'


@pytest.mark.parametrize("factor, words", [
    (2, "is twice the expected values"),
    (0.5, "is half the expected values"),
    (M, "is m times the expected values (m, the number of examples)"),
    (1 / M, "is the expected values divided by m, the number of examples (a mean instead of a sum?)"),
    (T_X, "is T_x times the expected values (T_x, the number of time steps)"),
    (1 / T_X, "is the expected values divided by T_x, the number of time steps"),
    (3, "is 3 times the expected values"),
    (1 / 3, "is 1/3 times the expected values"),
    (1.37, "is 1.37 times the expected values"),
    (-2.5, "is -2.5 times the expected values"),
])
def test_factor(factor, words):
    e = rnn_gradients()
    assert said(changed(e, dba=factor * e["dba"]), e) == f'gradients["dba"] {words}; everything else is right.'


def test_factor_m_preferred_to_twice_when_m_is_2():
    e = rnn_gradients(m=2)
    assert "m times" in said(changed(e, dba=2 * e["dba"]), e, m=2)


def test_factor_without_m_and_T_x_given_read_from_the_shapes():
    e = rnn_gradients()
    assert "divided by m" in said(changed(e, dba=e["dba"] / M), e, m=None, T_x=None)


def test_all_zeros():
    e = rnn_gradients()
    assert said(changed(e, da0=np.zeros((N_A, M))), e) == 'gradients["da0"] is all zeros; everything else is right.'


def test_output_in_another_slot():
    rng = np.random.default_rng(1)
    square = rnn_gradients(n_x=N_A)
    wrong = changed(square, dWaa=square["dWax"], dx=rng.standard_normal(square["dx"].shape))
    assert said(wrong, square) == 'gradients["dWaa"] holds the expected values of gradients["dWax"].'


def test_swapped_outputs():
    e = rnn_gradients(n_x=N_A)
    assert said(changed(e, dWax=e["dWaa"], dWaa=e["dWax"]), e) == 'gradients["dWax"] and gradients["dWaa"] are swapped.'
    f = forward_outputs(n_y=N_A)
    assert said(changed(f, a=f["y_pred"], y_pred=f["a"]), f, label=str) == "a and y_pred are swapped."


def test_function_applied_once_too_often():
    f = forward_outputs()
    assert said(changed(f, a=np.tanh(f["a"])), f, label=str) == \
        "a is tanh of the expected values: tanh applied once too often; everything else is right."
    e = lstm_gradients()
    gate = sigmoid(e["dc_prev"])
    assert said(changed({"ft": gate}, ft=sigmoid(gate)), {"ft": gate}, label=str) == \
        "ft is sigmoid of the expected values: sigmoid applied once too often."
    softmaxed = np.exp(f["y_pred"]) / np.exp(f["y_pred"]).sum(axis=0)
    assert said(changed(f, y_pred=softmaxed), f, label=str).startswith(
        "y_pred is softmax of the expected values: softmax applied once too often")


def test_function_missing():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((N_A, M))
    assert said({"a_next": z}, {"a_next": np.tanh(z)}, label=str) == \
        "a_next is right once tanh is applied: a tanh is missing."
    assert said({"it": z}, {"it": sigmoid(z)}, label=str) == \
        "it is right once sigmoid is applied: a sigmoid is missing."
    scores = rng.standard_normal((N_Y, M))
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=0)
    assert said({"yt_pred": scores}, {"yt_pred": probabilities}, label=str) == \
        "yt_pred is right once softmax is applied: a softmax is missing."


@pytest.mark.parametrize("shift, step", [(1, "t-1"), (-1, "t+1")])
def test_time_shifted_by_one(shift, step):
    f = forward_outputs()
    late = np.roll(f["a"], shift, axis=2)
    assert said(changed(f, a=late), f, label=str) == \
        f"a at step t holds the expected values of step {step} (a time index off by one); everything else is right."
    late[..., 0 if shift == 1 else -1] = 0  # the step no other step fills: zeros, not the other end
    assert f"step {step}" in said(changed(f, a=late), f, label=str)


def test_time_shift_of_both_outputs():
    f = forward_outputs()
    shifted = {key: np.roll(value, -1, axis=2) for key, value in f.items()}
    assert said(shifted, f, label=str) == \
        "a and y_pred at step t hold the expected values of step t+1 (a time index off by one)."


def test_right_at_the_last_step_only():
    e = rnn_gradients()
    dx = e["dx"] * 1.5 + 0.1
    dx[..., -1] = e["dx"][..., -1]
    assert said(changed(e, dx=dx), e) == ('gradients["dx"] is right at the last time step only: check what '
                                         'is carried from one step to the next; everything else is right.')


def test_right_at_the_first_step_only():
    f = forward_outputs()
    a = f["a"] * 0.5 - 0.2
    a[..., 0] = f["a"][..., 0]
    assert said(changed(f, a=a), f, label=str).startswith("a is right at the first time step only")


@pytest.mark.parametrize("step, words", [(0, "first"), (-1, "last")])
def test_right_at_every_step_but_one(step, words):
    f = forward_outputs()
    a = f["a"].copy()
    a[..., step] += 0.3
    assert said(changed(f, a=a), f, label=str) == \
        f"a is right at every time step but the {words}; everything else is right."


def test_right_but_the_shape():
    e = rnn_gradients()
    assert said(changed(e, dba=e["dba"].ravel()), e) == \
        'gradients["dba"] has the expected values in the wrong shape; everything else is right.'


def test_right_except_one_output():
    e = rnn_gradients()
    unrelated = np.random.default_rng(7).standard_normal(e["dWax"].shape)
    assert said(changed(e, dWax=unrelated), e) == 'Everything is right except gradients["dWax"].'


@pytest.mark.parametrize("gate, name", [("f", "forget"), ("i", "update"), ("c", "candidate"), ("o", "output")])
def test_right_except_one_gate(gate, name):
    e = lstm_gradients()
    rng = np.random.default_rng(3)
    wrong = changed(e, **{f"dW{gate}": rng.standard_normal(e[f"dW{gate}"].shape),
                          f"db{gate}": rng.standard_normal((N_A, 1))})
    assert said(wrong, e) == \
        f'Everything is right except gradients["dW{gate}"] and gradients["db{gate}"]: look at the {name} gate.'


def test_right_except_one_gate_of_the_cell_forward():
    rng = np.random.default_rng(4)
    e = {name: sigmoid(rng.standard_normal((N_A, M))) for name in ("a_next", "c_next", "ft", "it", "cct", "ot")}
    assert said(changed(e, cct=rng.standard_normal((N_A, M))), e, label=lambda key: f"{key} (in the cache)") == \
        "Everything is right except cct (in the cache): look at the candidate gate."


def test_relation_and_the_rest_of_a_gate():
    e = lstm_gradients()
    wrong = changed(e, dWi=e["dWi"].T, dbi=e["dbi"] + 1)
    assert said(wrong, e) == ('gradients["dWi"] is transposed (rows and columns swapped). Everything else is right '
                              'except gradients["dbi"]: look at the update gate.')


def test_two_relations_at_most_and_the_most_specific_first():
    e = lstm_gradients()
    wrong = changed(e, dxt=2 * e["dxt"], da_prev=-e["da_prev"], dWf=e["dWf"].T, dbo=np.zeros((N_A, 1)))
    assert said(wrong, e) == ('gradients["dbo"] is all zeros; gradients["dWf"] is transposed (rows and columns '
                              'swapped).')


def test_outputs_with_the_same_relation_named_together():
    e = lstm_gradients()
    wrong = {key: (value / M if key.startswith("db") else value) for key, value in e.items()}
    assert said(wrong, e).startswith('gradients["dbf"], gradients["dbi"] and 2 more are the expected values '
                                     'divided by m')


def test_hidden_sizes_m_1_T_x_1():
    """No factor 1 and no time relation where there is one step: only what holds."""
    e = rnn_gradients(m=1, T_x=1)
    assert said(changed(e, dWax=e["dWax"].T), e, m=1, T_x=1).startswith('gradients["dWax"] is transposed')
    assert said(changed(e, dx=e["dx"] * 1.00001 + 0.5), e, m=1, T_x=1) == 'Everything is right except gradients["dx"].'
    assert said(changed(e, dba=2 * e["dba"]), e, m=1, T_x=1).startswith('gradients["dba"] is twice')


# --------------------------------------------------------------------------
# No relation where there is none
# --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(20))
def test_no_relation_for_unrelated_values(seed):
    rng = np.random.default_rng(100 + seed)
    for expected in (rnn_gradients(seed), lstm_gradients(seed), forward_outputs(seed), rnn_gradients(seed, n_x=N_A)):
        unrelated = {key: rng.standard_normal(value.shape) for key, value in expected.items()}
        assert said(unrelated, expected) is None
        # Slightly wrong everywhere (rounding to 2 decimals): no family, though each output is close.
        assert said({key: np.round(value, 2) for key, value in expected.items()}, expected) is None


def test_no_relation_when_everything_is_right():
    e = rnn_gradients()
    assert said(copy.deepcopy(e), e) is None
    assert said({key: value.astype(np.float32) for key, value in e.items()}, e) is None
    assert said({key: value.tolist() for key, value in e.items()}, e) is None


@pytest.mark.parametrize("got", [
    None, "dx", 3, [], {}, {"dx": None}, {"dx": "abc", "dWax": b"\x00"}, {"dx": [[1, 2], [3]]},
    {"dx": np.zeros((2, 2)), "dWax": np.ones(7)}, {"dx": np.full((N_X, M, T_X), np.nan)},
    {"dx": np.full((N_X, M, T_X), np.inf), "da0": -np.inf * np.ones((N_A, M))},
    {"dx": np.ones((N_X, M, T_X)) * 1j}, {"dx": np.array([object(), None])}, {"dWax": np.empty((0,))},
    {key: (lambda: 0) for key in ("dx", "da0", "dWax", "dWaa", "dba")},
])
def test_garbage_never_raises(got):
    """Every output missing or unreadable: nothing to relate, and no exception."""
    assert said(got, rnn_gradients()) is None


@pytest.mark.parametrize("garbage", [None, "abc", [[1, 2], [3]], np.full((N_A, N_X), np.nan), np.ones((2, 2)), 1j])
def test_one_garbage_output_among_right_ones(garbage):
    e = rnn_gradients()
    assert said(changed(e, dWax=garbage), e) == 'Everything is right except gradients["dWax"].'


@pytest.mark.parametrize("expected", [None, {}, "x", {"dx": None}, {"dx": "abc"}])
def test_garbage_expected_never_raises(expected):
    assert relation(rnn_gradients(), expected) is None


def test_a_label_that_raises_falls_back_to_the_name():
    e = rnn_gradients()

    def label(name):
        raise KeyError(name)
    assert relation(changed(e, dWax=e["dWax"].T), e, label) == \
        "dWax is transposed (rows and columns swapped); everything else is right."


def test_fast_on_a_few_thousand_entries():
    n_x, n_a, m, T_x = 10, 20, 50, 5
    e = {"dx": np.random.default_rng(0).standard_normal((n_x, m, T_x)),
         **{key: value for key, value in lstm_gradients(n_x=n_x, n_a=n_a, m=m).items() if key.startswith("d")}}
    rng = np.random.default_rng(1)
    unrelated = {key: rng.standard_normal(value.shape) for key, value in e.items()}  # every family tried
    best = min(_timed(lambda: relation(unrelated, e, m=m, T_x=T_x)) for _ in range(5))
    assert best < 0.02, f"{best * 1e3:.1f} ms"


def _timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


# --------------------------------------------------------------------------
# Real mistakes, written as students write them
# --------------------------------------------------------------------------

def student(function, *edits):
    """The reference functions, the solution of `function` edited by (old, new) pairs, loaded
    the way rnn_utils.load_functions loads a student's cells."""
    sources = RNN.sources(RNN.functions)
    for old, new in edits:
        assert old in sources[function], f"the solution of {function} no longer contains {old!r}"
        sources[function] = sources[function].replace(old, new)
    namespace = {"np": np, "__name__": "student"}
    namespace.update({name: getattr(rnn_utils, name) for name in rnn_utils.__all__})
    for name in RNN.functions:
        exec(compile(sources[name], f"<student {name}>", "exec"), namespace)
    return namespace


def real(function, *edits, example="the example"):
    """The sentence for the student's `function` (the reference's with `edits`) on one of the
    examples, a backward pass fed the reference forward pass's cache, as the tests feed it."""
    ref = RNN.load()
    ex = rnn_utils.example_inputs(**rnn_utils.EXAMPLES[example])
    feeder = rnn_utils.FEEDERS.get(function)
    args = rnn_utils.exercise_arguments(function, ex, getattr(ref, feeder) if feeder else None)
    got = rnn_utils.exercise_outputs(function, student(function, *edits)[function](*copy.deepcopy(args)))
    expected = rnn_utils.exercise_outputs(function, getattr(ref, function)(*copy.deepcopy(args)))
    label = gradients_label if feeder else str
    n_x, m, T_x = ex["x"].shape
    return said(got, expected, label, m=m, T_x=T_x)


CARRIED_BACK = "is right at the last time step only: check what is carried from one step to the next"


def test_real_da_prevt_not_carried_back():
    assert real("rnn_backward", ("da[:, :, t] + da_prevt", "da[:, :, t]")) == f'gradients["dx"] {CARRIED_BACK}.'


def test_real_lstm_dc_prevt_ignored():
    assert real("lstm_backward", ("da_prevt, dc_prevt, caches[t]", "da_prevt, np.zeros((n_a, m)), caches[t]")) == \
        f'gradients["dx"] {CARRIED_BACK}.'


def test_real_lstm_neither_carried_back():
    """The old Coursera template's bug: the most common real mistake."""
    assert real("lstm_backward", ("da[:, :, t] + da_prevt, dc_prevt, caches[t]",
                                  "da[:, :, t], np.zeros((n_a, m)), caches[t]")) == f'gradients["dx"] {CARRIED_BACK}.'


def test_real_transposed_dwax():
    assert real("rnn_cell_backward", ("dWax = dz @ xt.T", "dWax = np.dot(xt, dz.T)")) == \
        'gradients["dWax"] is transposed (rows and columns swapped); everything else is right.'


def test_real_transposed_lstm_gate_weights():
    assert real("lstm_cell_backward", ("dWf, dbf = dzf @ concat.T", "dWf, dbf = concat @ dzf.T")) == \
        'gradients["dWf"] is transposed (rows and columns swapped); everything else is right: look at the forget gate.'


def test_real_bias_averaged_in_the_cell():
    sentence = real("rnn_cell_backward", ("np.sum(dz, axis=1, keepdims=True)", "np.mean(dz, axis=1, keepdims=True)"))
    assert sentence.startswith('gradients["dba"] is the expected values divided by m')
    assert sentence.endswith("everything else is right.")


def test_real_bias_divided_by_m_in_the_sequence():
    assert real("rnn_backward", ('dba += step["dba"]', 'dba += step["dba"] / m')).startswith(
        'gradients["dba"] is the expected values divided by m')


def test_real_weights_divided_by_T_x():
    assert real("rnn_backward", ('dWax += step["dWax"]', 'dWax += step["dWax"] / T_x')).startswith(
        'gradients["dWax"] is the expected values divided by T_x')


def test_real_lstm_bias_averaged():
    assert real("lstm_cell_backward", ("np.sum(dzf, axis=1, keepdims=True)", "np.mean(dzf, axis=1, keepdims=True)")
                ).endswith("everything else is right: look at the forget gate.")


def test_real_bias_without_keepdims():
    assert real("rnn_cell_backward", ("np.sum(dz, axis=1, keepdims=True)", "np.sum(dz, axis=1)")) == \
        'gradients["dba"] has the expected values in the wrong shape; everything else is right.'


def test_real_hidden_state_stored_one_step_early():
    assert real("rnn_forward", ("a[:, :, t] = a_next", "a[:, :, t - 1] = a_next")) == \
        "a at step t holds the expected values of step t+1 (a time index off by one); everything else is right."


def test_real_both_outputs_stored_one_step_early():
    assert real("rnn_forward", ("a[:, :, t] = a_next", "a[:, :, t - 1] = a_next"),
                ("y_pred[:, :, t] = yt_pred", "y_pred[:, :, t - 1] = yt_pred")) == \
        "a and y_pred at step t hold the expected values of step t+1 (a time index off by one)."


def test_real_lstm_memory_stored_one_step_early():
    assert real("lstm_forward", ("c[:, :, t] = c_next", "c[:, :, t - 1] = c_next")).startswith(
        "c at step t holds the expected values of step t+1")


def test_real_a0_at_every_step():
    assert real("rnn_forward", ("x[:, :, t], a_next, parameters", "x[:, :, t], a0, parameters")) == \
        "a and y_pred are right at the first time step only: check what is carried from one step to the next."


def test_real_lstm_memory_not_carried():
    assert real("lstm_forward", ("x[:, :, t], a_next, c_next, parameters",
                                 "x[:, :, t], a_next, np.zeros((n_a, m)), parameters")) == \
        "Every output is right at the first time step only: check what is carried from one step to the next."


@pytest.mark.parametrize("gate, line", [("ft", "ft = sigmoid(Wf @ concat + bf)"),
                                        ("it", "it = sigmoid(Wi @ concat + bi)"),
                                        ("ot", "ot = sigmoid(Wo @ concat + bo)")])
def test_real_sigmoid_applied_twice_to_a_gate(gate, line):
    twice = f"{gate} = sigmoid({line.split(' = ')[1]})"
    assert real("lstm_cell_forward", (line, twice)) == \
        f"{gate} is sigmoid of the expected values: sigmoid applied once too often."


def test_real_tanh_forgotten_in_the_cell():
    assert real("rnn_cell_forward", ("a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)",
                                     "a_next = Waa @ a_prev + Wax @ xt + ba")) == \
        "a_next is right once tanh is applied: a tanh is missing."


def test_real_softmax_forgotten_or_twice():
    line = "yt_pred = softmax(Wya @ a_next + by)"
    assert real("rnn_cell_forward", (line, "yt_pred = Wya @ a_next + by")) == \
        "yt_pred is right once softmax is applied: a softmax is missing; everything else is right."
    assert real("rnn_cell_forward", (line, "yt_pred = softmax(softmax(Wya @ a_next + by))")) == \
        "yt_pred is softmax of the expected values: softmax applied once too often; everything else is right."


def test_real_derivative_of_tanh_negated():
    assert real("rnn_cell_backward", ("dz = da_next * (1 - a_next ** 2)", "dz = da_next * (a_next ** 2 - 1)")) == \
        "Every output has the expected values with the opposite sign."


def test_real_weight_gradients_swapped():
    edits = (("dWax = dz @ xt.T", "dWax = dz @ a_prev.T"), ("dWaa = dz @ a_prev.T", "dWaa = dz @ xt.T"))
    assert real("rnn_cell_backward", *edits, example="a square example (n_x = n_a)") == \
        'gradients["dWax"] and gradients["dWaa"] are swapped.'


def test_real_gate_copied_from_the_forget_gate():
    assert real("lstm_cell_backward", ("dWi, dbi = dzi @ concat.T, np.sum(dzi", "dWi, dbi = dzf @ concat.T, np.sum(dzf")
                ) == ('gradients["dWi"] holds the expected values of gradients["dWf"]; gradients["dbi"] holds the '
                      'expected values of gradients["dbf"]; everything else is right: look at the update gate.')


def test_real_gate_not_accumulated():
    assert real("lstm_backward", ('dWi += step["dWi"]', 'dWi = step["dWi"]'),
                ('dbi += step["dbi"]', 'dbi = step["dbi"]')) == \
        'Everything is right except gradients["dWi"] and gradients["dbi"]: look at the update gate.'


def test_real_dc_prev_without_the_forget_gate():
    assert real("lstm_cell_backward", ("dc_prev = dc * ft", "dc_prev = dc")) == \
        'Everything is right except gradients["dc_prev"].'


@pytest.mark.parametrize("function, edit", [
    ("rnn_backward", ("reversed(range(T_x))", "range(T_x)")),
    ("rnn_cell_backward", ("(1 - a_next ** 2)", "(1 - np.tanh(a_next) ** 2)")),
    ("lstm_cell_forward", ("a_next = ot * np.tanh(c_next)", "a_next = ot * c_next")),
])
def test_real_mistakes_without_a_relation_get_none(function, edit):
    """Mistakes that change every output in no simple way: nothing is claimed (the list of
    known mistakes names these)."""
    assert real(function, edit) is None


@pytest.mark.parametrize("function", RNN.functions)
@pytest.mark.parametrize("example", list(rnn_utils.EXAMPLES))
def test_real_right_answers_get_none(function, example):
    assert real(function, example=example) is None


def test_one_zero_is_not_called_all_zeros():
    """A sampled index 0 (one example) is a draw, not an array left unfilled."""
    one = relation({"indices": np.array([0.0])}, {"indices": np.array([3.0])})
    assert one is None or "all zeros" not in one
    many = relation({"a": np.zeros((3, 2))}, {"a": np.ones((3, 2))})
    assert "all zeros" in many
