"""What each graded function of "RNN step by step" is: one declaration per exercise.

The visible tests (rnn_utils.check_<function>_shapes and _values) and the grader's hidden
tests read these declarations; nothing else lists the exercises. rnn_utils loads this file
(the one beside the notebooks) with `Exercise` (rnn_checks.py says what each field means)
and `rnn_utils` given.
"""

Exercise, rnn_utils = globals()["Exercise"], globals()["rnn_utils"]  # given by rnn_utils

# The inputs of every example: a dict of arrays, made from keyword arguments (seed, m and T_x
# among them: messages say "m = 1" and "a step late" in their terms).
example_inputs = rnn_utils.example_inputs

GRADIENT_KEYS_CELL = ("dxt", "da_prev", "dWax", "dWaa", "dba")
GRADIENT_KEYS = ("dx", "da0", "dWax", "dWaa", "dba")

# Every visible test runs the function on these examples (keyword arguments of
# example_inputs); only the first one's values are printed. The others catch what it
# cannot: swapped weights still multiply when n_x = n_a, a squeezed array breaks with one
# example or one step, and a naive softmax overflows on large scores.
EXAMPLES = {
    "the example": {},
    "a square example (n_x = n_a)": dict(seed=2, n_x=4, n_a=4, n_y=3, m=6, T_x=3),
    "an example with m = 1 and T_x = 1": dict(seed=4, n_x=2, n_a=3, n_y=3, m=1, T_x=1),
    "an example with large scores": dict(seed=3, m=8, T_x=2, output_scale=1000.0),
}
LARGE_SCORES = "an example with large scores"

GATES = ("ft", "it", "cct", "ot")
LSTM_WEIGHT_GRADIENTS = ("dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")

EXERCISES = {exercise.name: exercise for exercise in (
    Exercise("rnn_cell_forward", "notebook 1", ("xt", "a_prev", "parameters"), ("a_next", "yt_pred"),
             lambda ex: (ex["x"][:, :, 0], ex["a0"], ex["parameters"]),
             shown=(("a_next", (4,)), ("yt_pred", (1,))),
             returns=("a_next", "yt_pred", "cache"), cache=("a_next", "a_prev", "xt", "parameters"),
             carried=("a_next",)),
    Exercise("rnn_forward", "notebooks 1 and 2", ("x", "a0", "parameters"), ("a", "y_pred"),
             lambda ex: (ex["x"], ex["a0"], ex["parameters"]),
             shown=(("a", (4, 1)), ("y_pred", (1, 3))),
             returns=("a", "y_pred", "caches"), carried=("a",), cell="rnn_cell_forward", calls=("rnn_cell_forward",)),
    Exercise("rnn_cell_backward", "notebook 3", ("da_next", "cache"), GRADIENT_KEYS_CELL,
             lambda ex: (ex["da"][:, :, 0],),
             shown=(("dxt", (1, 2)), ("da_prev", (2, 3)), ("dWax", (3, 1)), ("dba", (4,))),
             forward="rnn_cell_forward"),
    Exercise("rnn_backward", "notebook 3", ("da", "caches"), GRADIENT_KEYS,
             lambda ex: (ex["da"],),
             shown=(("dx", (1, 2)), ("da0", (2, 3)), ("dWax", (3, 1)), ("dWaa", (1, 2)), ("dba", (4,))),
             forward="rnn_forward", calls=("rnn_cell_backward",)),
    Exercise("lstm_cell_forward", "exercise 1 of this notebook", ("xt", "a_prev", "c_prev", "parameters"),
             ("a_next", "c_next", "yt_pred") + GATES,  # the gates too: lstm_cell_backward reads them from the cache
             lambda ex: (ex["x"][:, :, 0], ex["a0"], ex["c0"], ex["lstm_parameters"]),
             shown=(("a_next", (4,)), ("c_next", (2,)), ("yt_pred", (1,))),
             returns=("a_next", "c_next", "yt_pred", "cache"),
             cache=("a_next", "c_next", "a_prev", "c_prev", "ft", "it", "cct", "ot", "xt", "parameters"),
             carried=("a_next", "c_next") + GATES),
    Exercise("lstm_forward", "exercises 1 and 2 of this notebook", ("x", "a0", "parameters"), ("a", "y", "c"),
             lambda ex: (ex["x"], ex["a0"], ex["lstm_parameters"]),
             shown=(("a", (4, 3)), ("y", (1, 4)), ("c", (1, 2))),
             returns=("a", "y", "c", "caches"), carried=("a", "c"), cell="lstm_cell_forward",
             calls=("lstm_cell_forward",)),
    Exercise("lstm_cell_backward", "exercise 3 of this notebook", ("da_next", "dc_next", "cache"),
             ("dxt", "da_prev", "dc_prev") + LSTM_WEIGHT_GRADIENTS,
             lambda ex: (ex["da"][:, :, 0], ex["dc"]),
             shown=(("dxt", (1, 2)), ("da_prev", (2, 3)), ("dc_prev", (2, 3)), ("dWf", (3, 1)), ("dbi", (4,)),
                    ("dWo", (1, 2))),
             forward="lstm_cell_forward"),
    Exercise("lstm_backward", "exercise 4 of this notebook", ("da", "caches"), ("dx", "da0") + LSTM_WEIGHT_GRADIENTS,
             lambda ex: (ex["da"],),
             shown=(("dx", (1, 2)), ("da0", (2, 3)), ("dWf", (3, 1)), ("dbi", (4,)), ("dWc", (1, 2)), ("dbo", (4,))),
             forward="lstm_forward", calls=("lstm_cell_backward",)),
)}
