"""What each graded function of "A character-level language model" is: one declaration per exercise.

The visible tests (rnn_utils.check_<function>_shapes and _values) and the grader's hidden
tests read these declarations; nothing else lists the exercises. rnn_utils loads this file
(the one beside the notebooks) with `Exercise` (rnn_checks.py says what each field means)
and `rnn_utils` given.
"""

import numpy as np

Exercise, rnn_utils = globals()["Exercise"], globals()["rnn_utils"]  # given by rnn_utils

GRADIENT_KEYS = ("dWax", "dWaa", "dWya", "dba", "dby")


def example_inputs(seed=1, n_y=5, n_a=4, m=3, T_x=6, output_scale=1.0, padded=True, gradient_scale=3.0,
                   max_norm=5.0, temperature=0.5):
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
    return {"scores": scores, "y": y, "mask": mask, "gradients": gradients, "max_norm": float(max_norm),
            "step_scores": step_scores, "temperature": float(temperature), "sample_seed": sample_seed}


# Every visible test runs the function on these examples (keyword arguments of
# example_inputs); only the first one's values are printed. The others catch what it
# cannot: gradients already below max_norm (left as they are), one example and one step
# (a squeezed array, a sum over the wrong axis), and large scores, where a softmax that does
# not subtract each column's maximum overflows.
EXAMPLES = {
    "the example": {},
    "an example with gradients below max_norm": dict(seed=2, n_y=4, n_a=3, m=5, T_x=3, gradient_scale=0.2,
                                                     temperature=2.0),
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
)}
