"""What each graded function of "A character-level language model" is: one declaration per exercise.

The visible tests (rnn_utils.check_<function>_shapes and _values) and the grader's hidden
tests read these declarations; nothing else lists the exercises. rnn_utils loads this file
(the one beside the notebooks) with `Exercise` (rnn_checks.py says what each field means)
and `rnn_utils` given.
"""

import numpy as np

Exercise, rnn_utils = globals()["Exercise"], globals()["rnn_utils"]  # given by rnn_utils

GRADIENT_KEYS = ("dWax", "dWaa", "dWya", "dba", "dby")
PARAMETER_KEYS = ("Wax", "Waa", "Wya", "ba", "by")
# A returned dict is judged entry by entry, each named as code reads it.
NEW_PARAMETERS = tuple(f'parameters["{key}"]' for key in PARAMETER_KEYS)
ADAM_STATE = ('adam["t"]',) + tuple(f'adam["{moment}"]["{key}"]' for moment in "mv" for key in PARAMETER_KEYS)

# The RNN the training exercises run: the student's own (notebook 3 loads them from their folder of
# the first assignment), graded against the reference versions.
FROM_EARLIER_ASSIGNMENTS = {"rnn_step_by_step": ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward",
                                                 "rnn_backward")}


def example_inputs(seed=1, n_y=5, n_a=4, m=3, T_x=6, output_scale=1.0, padded=True, gradient_scale=3.0,
                   max_norm=5.0, temperature=0.5, learning_rate=0.1, n_steps=12, train_max_norm=1.0):
    """One reproducible example for the exercises of this assignment.

    A character-level model reads and predicts characters of a vocabulary of n_y (its input
    is one-hot too: n_x = n_y). Returns a dict with
        scores       (n_y, m, T_x)  float64, the scores z<t> = Wya a<t> + by of every step, times
                     `output_scale` (a large one gives scores far apart, where a naive softmax overflows)
        y            (m, T_x)       int64, the target character of every step, in [0, n_y)
        mask         (m, T_x)       float64, 1 for a real step, 0 for a padded one: sequence i has
                     some length between 1 and T_x and is padded after it (with `padded` and T_x > 1,
                     at least one sequence is shorter than T_x; without, no step is padded)
        gradients    {dWax (n_a, n_y), dWaa (n_a, n_a), dWya (n_y, n_a), dba (n_a, 1), dby (n_y, 1)}
                     float64, standard normal times `gradient_scale`
        max_norm     float, the threshold of clip_gradients
        step_scores  (n_y, m)       float64, the scores of one step to sample from, times `output_scale`
        temperature  float, the sampling temperature
        sample_seed  int, the seed of the generator sample_characters draws with
        x            (n_y, m, T_x)  float64, one-hot characters: a chunk of text the model reads
        a0           (n_a, m)       float64, the hidden state the chunk starts from
        parameters   {Wax (n_a, n_y), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)} float64
        adam         {"t": 3, "m": {Wax: ..., ...}, "v": {...}}, Adam's state after three steps
        learning_rate, n_steps, seq_length (= T_x), train_max_norm  numbers of a training step or
                     run (its gradients have norms of about 1 to 4: the default clips most of them)
        data         (m, 3 T_x + 2) int64, m streams of text, each counting up through the
                     vocabulary (modulo n_y) from a character of its own: easy to learn
    The visible tests use the defaults (seed 1), then the other EXAMPLES.
    """
    rng = np.random.default_rng(seed)
    scores = output_scale * rng.standard_normal((n_y, m, T_x))
    y = rng.integers(0, n_y, size=(m, T_x)).astype(np.int64)
    lengths = rng.integers(1, T_x + 1, size=m)
    if not padded:
        lengths[:] = T_x
    elif T_x > 1 and np.all(lengths == T_x):
        lengths[-1] = T_x - 1
    mask = (np.arange(T_x)[np.newaxis, :] < lengths[:, np.newaxis]).astype(np.float64)
    # The other inputs come from generators of their own: changing one kind changes no other.
    grads = np.random.default_rng((seed, 1))
    shapes = {"dWax": (n_a, n_y), "dWaa": (n_a, n_a), "dWya": (n_y, n_a), "dba": (n_a, 1), "dby": (n_y, 1)}
    gradients = {key: gradient_scale * grads.standard_normal(shape) for key, shape in shapes.items()}
    sampling = np.random.default_rng((seed, 2))
    step_scores = output_scale * sampling.standard_normal((n_y, m))
    sample_seed = int(sampling.integers(0, 2 ** 31))
    model = np.random.default_rng((seed, 3))
    x = np.moveaxis(np.eye(n_y)[model.integers(0, n_y, size=(m, T_x))], -1, 0)
    a0 = np.tanh(model.standard_normal((n_a, m)))
    parameters = {key: 0.5 * model.standard_normal(shapes["d" + key])
                  for key in PARAMETER_KEYS}
    adam = {"t": 3, "m": {key: 0.1 * model.standard_normal(value.shape) for key, value in parameters.items()},
            "v": {key: 0.01 * model.standard_normal(value.shape) ** 2 for key, value in parameters.items()}}
    starts = np.random.default_rng((seed, 4)).integers(0, n_y, size=(m, 1))
    data = ((starts + np.arange(3 * T_x + 2)) % n_y).astype(np.int64)
    return {"scores": scores, "y": y, "mask": mask, "gradients": gradients, "max_norm": float(max_norm),
            "step_scores": step_scores, "temperature": float(temperature), "sample_seed": sample_seed,
            "x": x, "a0": a0, "parameters": parameters, "adam": adam, "learning_rate": float(learning_rate),
            "n_steps": int(n_steps), "seq_length": int(T_x), "data": data, "train_max_norm": float(train_max_norm)}


# Every visible test runs the function on these examples (keyword arguments of
# example_inputs); only the first one's values are printed. The others catch what it
# cannot: gradients already below max_norm (left as they are), one example and one step
# (a squeezed array, a sum over the wrong axis), and large scores, where a softmax that does
# not subtract each column's maximum overflows.
EXAMPLES = {
    "the example": {},
    "an example with gradients below max_norm": dict(seed=2, n_y=4, n_a=3, m=5, T_x=3, gradient_scale=0.2,
                                                     temperature=2.0, train_max_norm=50.0),
    "an example with m = 1 and T_x = 1": dict(seed=4, n_y=3, n_a=2, m=1, T_x=1, temperature=2.0),
    "an example with large scores": dict(seed=3, m=8, T_x=2, output_scale=1000.0),
}
LARGE_SCORES = "an example with large scores"

EXERCISES = {exercise.name: exercise for exercise in (
    Exercise("temporal_softmax_loss", "notebook 1", ("scores", "y", "mask"), ("loss", "dscores"),
             lambda ex: (ex["scores"], ex["y"], ex["mask"]),
             shown=(("loss", ()), ("dscores", (1, 1))),
             returns=("loss", "dscores")),
    Exercise("clip_gradients", "notebook 1", ("gradients", "max_norm"), GRADIENT_KEYS,
             lambda ex: (ex["gradients"], ex["max_norm"]),
             shown=(("dWax", (0,)), ("dWaa", (1, 2)), ("dby", (4,)))),
    Exercise("sample_characters", "notebook 2", ("step_scores", "temperature", "sample_seed"),
             ("indices", "probs"),
             lambda ex: (ex["step_scores"], ex["temperature"], ex["sample_seed"]),
             shown=(("indices", ()), ("probs", ())),
             returns=("indices", "probs")),
    Exercise("rnn_train_step", "notebook 3",
             ("x", "y", "mask", "a0", "parameters", "adam", "learning_rate", "max_norm"),
             ("loss", "a_last") + NEW_PARAMETERS + ADAM_STATE,
             lambda ex: (ex["x"], ex["y"], ex["mask"], ex["a0"], ex["parameters"], ex["adam"], ex["learning_rate"],
                         ex["train_max_norm"]),
             shown=(("loss", ()), ("a_last", (slice(None), 0)), ('parameters["by"]', (slice(None), 0))),
             returns=("loss", "a_last", "parameters", "adam"),
             calls=("rnn_forward", "rnn_backward", "rnn_cell_forward", "rnn_cell_backward", "temporal_softmax_loss",
                    "clip_gradients")),
    Exercise("train_char_model", "notebook 3",
             ("data", "parameters", "n_steps", "seq_length", "learning_rate", "max_norm"),
             ("losses",) + NEW_PARAMETERS,
             lambda ex: (ex["data"], ex["parameters"], ex["n_steps"], ex["seq_length"], ex["learning_rate"],
                         ex["train_max_norm"]),
             shown=(("losses", ()), ('parameters["by"]', (slice(None), 0))),
             returns=("losses", "parameters"), calls=("rnn_train_step",)),
)}
