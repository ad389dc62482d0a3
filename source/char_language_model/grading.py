"""What only the grader knows of "A character-level language model": the hidden cases, the
words that name one, and the classic mistakes (autograder/mistakes.py says how a Mistake is
made and recognised).

Not released (course.nbgrader_config ignores this file): the mistakes are made from the
reference functions. autograder.reference loads it with `rnn_utils` (the assignment's) and
`checks` (its exercises and visible tests) given.
"""

import numpy as np

from autograder.mistakes import Mistake, rebound as _rebound, wrap_inputs as _wrap_inputs, \
    wrap_outputs as _wrap_outputs
from autograder.sample import replace

rnn_utils, checks = globals()["rnn_utils"], globals()["checks"]  # given by autograder.reference

# Shapes students never see: one example and one step, vocabularies of other sizes (2 among
# them), sequences longer than the visible ones, gradients far above max_norm and below it,
# temperatures on both sides of 1; and scores far apart, where a softmax that does not
# subtract each column's maximum overflows and the log of a probability underflows.
HIDDEN_CASES = (
    dict(seed=7, n_y=6, n_a=3, m=1, T_x=1, temperature=2.0),
    dict(seed=11, n_y=2, n_a=5, m=4, T_x=7, temperature=0.7),
    dict(seed=13, n_y=7, n_a=2, m=2, T_x=5, gradient_scale=0.2, temperature=1.5, train_max_norm=50.0),
    dict(seed=17, n_y=8, n_a=4, m=6, T_x=3, max_norm=1.0, temperature=0.25),
    dict(seed=19, n_y=9, n_a=3, m=7, T_x=2, output_scale=1000.0, temperature=0.5),
)



def describe(case, function=None):
    """Words for a hidden case that say its kind, not its contents: only what the inputs of
    `function` (all of them when None) are made of."""
    case = {**checks.EXAMPLE_DEFAULTS, **case}  # the words follow example_inputs' defaults
    loss, clip, sample, step, run = (function in (None, name) for name in (
        "temporal_softmax_loss", "clip_gradients", "sample_characters", "rnn_train_step", "train_char_model"))
    words = []
    if step:
        words.append(f"n_a = {case['n_a']}")
    if run:
        words.append(f"{_count(case['m'], 'stream')}, chunks of {_count(case['T_x'], 'step')}, "
                     f"{_count(case['n_steps'], 'training step')}")
    if loss or sample or step:
        words.append(f"m = {case['m']}")
    if loss or step:
        words.append(f"T_x = {case['T_x']}")
        if case["padded"] and case["T_x"] > 1:
            words.append("padded steps")
    if clip:
        # Standard normal entries times gradient_scale: a norm near gradient_scale * sqrt(entries).
        entries = case["n_a"] * (2 * case["n_y"] + case["n_a"] + 1) + case["n_y"]
        words.append("gradients " + ("above" if case["gradient_scale"] * np.sqrt(entries) > case["max_norm"]
                                     else "below") + " max_norm")
    if sample:
        words.append(f"temperature {'below' if case['temperature'] < 1 else 'above'} 1")
    if (loss or sample) and case["output_scale"] > 1:
        words.append("large scores")
    return "a hidden input with " + ", ".join(words)


def _count(n, thing):
    return f"{n} {thing}" + ("s" if n != 1 else "")


# --- temporal_softmax_loss ---

def _not_averaged(out, scores, y, mask):
    """The loss and its gradient summed over the batch, not averaged: m times the right ones."""
    m = scores.shape[1]
    return out[0] * m, out[1] * m


def _targets(scores, y):
    """The one-hot targets, of the shape (n_y, m, T_x) of the scores."""
    return np.moveaxis(np.eye(scores.shape[0])[y], -1, 0)


def _without_target(out, scores, y, mask):
    """dscores with the softmax's probabilities alone, the one at each target left as it is."""
    return out[0], out[1] + _targets(scores, y) * mask / scores.shape[1]


def _naive_softmax(z):
    e = np.exp(z)
    return e / np.sum(e, axis=0, keepdims=True)


def _loss_from(probabilities):
    """temporal_softmax_loss with the probabilities `probabilities(scores)` in place of the
    log-softmax's: the loss takes np.log of them at the targets (times the mask), and dscores
    is the reference's with them in place of the right ones. On moderate scores both equal the
    reference's; on large ones exp overflows (a naive softmax: NaN) or a probability underflows
    to 0 (its log: -inf, and 0 * -inf is NaN at a padded step)."""
    def change(out, scores, y, mask):
        q, m = probabilities(scores), scores.shape[1]
        at_targets = np.take_along_axis(q, y[np.newaxis], axis=0)[0]
        loss = -np.sum(mask * np.log(at_targets)) / m
        return loss, out[1] + (q - rnn_utils.softmax(scores)) * mask / m
    return _wrap_outputs("temporal_softmax_loss", change)


# --- clip_gradients ---

def _each_array_by_its_norm(ns):
    """Every array clipped as if it were all the gradients: by its own norm."""
    right = ns["clip_gradients"]

    def clip_gradients(gradients, max_norm):
        return {key: right({key: value}, max_norm)[key] for key, value in gradients.items()}
    return clip_gradients


def _always_rescaled(ns):
    """The gradients rescaled to the norm max_norm whatever their norm, small ones grown too:
    the reference clipped to a tiny norm, then scaled up to max_norm."""
    right, tiny = ns["clip_gradients"], 1e-9

    def clip_gradients(gradients, max_norm):
        return {key: value * (max_norm / tiny) for key, value in right(gradients, tiny).items()}
    return clip_gradients


# --- sample_characters ---

def _fresh_generator(ns):
    """Every example drawn with a generator made afresh from sample_seed: each column then gets
    the draw the first column gets."""
    right = ns["sample_characters"]

    def sample_characters(step_scores, temperature, sample_seed):
        probs = right(step_scores, temperature, sample_seed)[1]
        indices = [right(step_scores[:, i:i + 1], temperature, sample_seed)[0][0] for i in range(step_scores.shape[1])]
        return np.array(indices), probs
    return sample_characters


# --- rnn_train_step ---

def _loss_of_probabilities(ns):
    """The loss taken of rnn_forward's y_pred, the softmax of the scores, as if they were scores
    (and its gradient backpropagated as theirs): the softmax applied twice."""
    loss = ns["temporal_softmax_loss"]
    return _rebound(ns, "temporal_softmax_loss",
                    lambda scores, y, mask: loss(rnn_utils.softmax(scores), y, mask))["rnn_train_step"]


def _first_state_returned(ns):
    """a_last taken at the chunk's first step, a[:, :, 0], not its last."""
    right, forward = ns["rnn_train_step"], ns["rnn_forward"]

    def rnn_train_step(x, y, mask, a0, parameters, adam, learning_rate, max_norm):
        out = right(x, y, mask, a0, parameters, adam, learning_rate, max_norm)
        return (out[0], forward(x, a0, parameters)[0][:, :, 0]) + tuple(out[2:])
    return rnn_train_step


# --- train_char_model ---

def _each_step_from(change):
    """train_char_model calling a correct rnn_train_step on change(a0, adam) in place of its
    hidden state and optimiser state."""
    def make(ns):
        step = ns["rnn_train_step"]

        def changed(x, y, mask, a0, parameters, adam, learning_rate, max_norm):
            return step(x, y, mask, *change(a0, parameters, adam), learning_rate, max_norm)
        return _rebound(ns, "rnn_train_step", changed)["train_char_model"]
    return make


MISTAKES = (
    # temporal_softmax_loss
    Mistake("loss_not_averaged", "temporal_softmax_loss", "the loss summed over the batch, not averaged",
            "Divide the sum over the examples and the steps by m, the number of examples, in the loss and in its "
            "gradient alike.",
            _wrap_outputs("temporal_softmax_loss", _not_averaged)),
    Mistake("target_not_subtracted", "temporal_softmax_loss", "the one at the target not subtracted in dscores",
            "The gradient of -log p[target] with respect to the scores is the probabilities minus the one-hot "
            "target: subtract 1 at each step's target.",
            _wrap_outputs("temporal_softmax_loss", _without_target)),
    Mistake("mask_ignored", "temporal_softmax_loss", "the mask ignored (padded steps counted)",
            "Multiply each step's loss and its gradient by mask[i, t], so that padded steps add nothing.",
            _wrap_inputs("temporal_softmax_loss", lambda scores, y, mask: (scores, y, np.ones_like(mask)))),
    Mistake("loss_softmax_no_max", "temporal_softmax_loss", "softmax without subtracting the max",
            "np.exp overflows on large scores: subtract each column's maximum (axis 0, keepdims=True) before "
            "exponentiating.",
            _loss_from(_naive_softmax), stability=True),
    Mistake("log_of_softmax", "temporal_softmax_loss", "the log taken of the softmax's probabilities",
            "On large scores a probability underflows to 0 and its log is -inf: compute the log-probabilities "
            "directly, the shifted scores minus the log of the sum of their exponentials.",
            _loss_from(rnn_utils.softmax), stability=True),
    # clip_gradients
    Mistake("clip_by_value", "clip_gradients", "each value clipped instead of the global norm",
            "np.clip changes the gradient's direction: compute one norm over every entry of every array, and "
            "when it exceeds max_norm scale all the arrays by the same factor.",
            _wrap_outputs("clip_gradients", lambda out, gradients, max_norm:
                          {key: np.clip(value, -max_norm, max_norm) for key, value in gradients.items()})),
    Mistake("clip_each_array", "clip_gradients", "each array clipped by its own norm",
            "The norm is one number for all the gradients together (the square root of the sum of the squares "
            "of every array's entries), and every array is scaled by the same factor.",
            _each_array_by_its_norm),
    Mistake("always_rescaled", "clip_gradients", "the gradients rescaled even when their norm is below max_norm",
            "Clipping only shrinks: leave the gradients as they are when their norm does not exceed max_norm.",
            _always_rescaled),
    # sample_characters
    Mistake("temperature_after_softmax", "sample_characters", "the temperature applied after the softmax",
            "Divide the scores by the temperature before the softmax; the probabilities then depend on it.",
            _wrap_inputs("sample_characters", lambda step_scores, temperature, sample_seed:
                         (step_scores, 1.0, sample_seed))),
    Mistake("temperature_multiplied", "sample_characters", "the scores multiplied by the temperature",
            "Divide the scores by the temperature: a temperature above 1 flattens the distribution, one below 1 "
            "sharpens it.",
            _wrap_inputs("sample_characters", lambda step_scores, temperature, sample_seed:
                         (step_scores, 1.0 / temperature, sample_seed))),
    Mistake("argmax_not_sampled", "sample_characters", "the most likely character taken instead of a sample",
            "Draw each index at random with rng.choice and the column's probabilities: the model then writes "
            "varied text, not the same likeliest characters.",
            _wrap_outputs("sample_characters", lambda out, step_scores, temperature, sample_seed:
                          (np.argmax(out[1], axis=0), out[1]))),
    Mistake("generator_per_example", "sample_characters", "a new generator made for every example",
            "Make one generator from sample_seed before the loop and draw every example's index from it, in the "
            "order of the examples.",
            _fresh_generator),
    Mistake("sampling_softmax_no_max", "sample_characters", "softmax without subtracting the max",
            "np.exp overflows on large scores: subtract each column's maximum first (or use rnn_utils.softmax).",
            lambda ns: _rebound(ns, "softmax", _naive_softmax)["sample_characters"], stability=True),
    # rnn_train_step
    Mistake("loss_of_probabilities", "rnn_train_step", "the loss taken of y_pred, the softmax applied twice",
            "temporal_softmax_loss takes the scores Wya a<t> + by and applies the softmax itself: compute the "
            "scores from a, not from rnn_forward's y_pred.",
            _loss_of_probabilities),
    Mistake("not_clipped", "rnn_train_step", "the gradients not clipped",
            "Pass the five gradients of the parameters through clip_gradients(..., max_norm) before adam_update.",
            lambda ns: _rebound(ns, "clip_gradients", lambda gradients, max_norm: dict(gradients))["rnn_train_step"]),
    Mistake("first_state_returned", "rnn_train_step", "the hidden state of the chunk's first step returned",
            "The next chunk goes on from the last step's hidden state: return a[:, :, -1].",
            _first_state_returned),
    # train_char_model
    Mistake("hidden_state_reset", "train_char_model", "the hidden state reset to zeros at every chunk",
            "Start each chunk from the hidden state the previous one ended with (rnn_train_step's a_last); only "
            "the first chunk, and a new pass over the text, start from zeros.",
            _each_step_from(lambda a0, parameters, adam: (np.zeros_like(a0), parameters, adam))),
    Mistake("optimiser_restarted", "train_char_model", "Adam's state started afresh at every step",
            'Make the state {"t": 0, "m": zeros, "v": zeros} once, before the loop, and pass on the one each '
            "step returns.",
            _each_step_from(lambda a0, parameters, adam: (a0, parameters, rnn_utils.adam_state(parameters)))),
)


NB1, NB2, NB3 = "1_loss_and_clipping", "2_sampling", "3_training"

CELL_BY_CELL = """cache_list, a_t, steps = [], a0, []
    for t in range(x.shape[2]):
        a_t, _, cache = rnn_cell_forward(x[:, :, t], a_t, parameters)
        steps.append(a_t)
        cache_list.append(cache)
    a, caches = np.stack(steps, axis=2), (cache_list, x)"""
THROUGH_TIME = 'through_time = rnn_backward(np.einsum("ya,ymt->amt", parameters["Wya"], dscores), caches)'
IN_HALVES = """da = np.einsum("ya,ymt->amt", parameters["Wya"], dscores)
    halves = [rnn_backward(0.5 * da, caches) for _ in range(2)]
    through_time = {key: halves[0][key] + halves[1][key] for key in halves[0]}"""

# The sample class (autograder/sample.py, `make demo`, tests/fixtures/class_char_language_model):
# each student is the answered release with one edit; name -> (its exact score, out of 15, edit).
SAMPLE_STUDENTS = {
    "complete": (15, lambda nbs: None),
    "blank": (0, lambda nbs: nbs.update(blank=True)),
    "loss_not_averaged": (13, lambda nbs: (
        replace(nbs[NB1], "temporal_softmax_loss", "log_probs) / m", "log_probs)"),
        replace(nbs[NB1], "temporal_softmax_loss", "* mask / m", "* mask"))),
    "no_minus_one_at_target": (13, lambda nbs: replace(nbs[NB1], "temporal_softmax_loss", "(np.exp(log_probs) - targets)",
                                                      "np.exp(log_probs)")),
    "clipped_by_value": (13, lambda nbs: replace(nbs[NB1], "clip_gradients", "value * scale for",
                                                "np.clip(value, -max_norm, max_norm) for")),
    "temperature_after_softmax": (13, lambda nbs: replace(nbs[NB2], "sample_characters", "softmax(step_scores / temperature)",
                                                         "softmax(step_scores)")),
    "missing_notebook": (12, lambda nbs: nbs.update({NB2: None})),
    "not_clipped": (13, lambda nbs: replace(nbs[NB3], "rnn_train_step", "clipped = clip_gradients(gradients, max_norm)",
                                            "clipped = gradients")),
    "loss_of_probabilities": (13, lambda nbs: replace(nbs[NB3], "rnn_train_step", "temporal_softmax_loss(scores, y, mask)",
                                                      "temporal_softmax_loss(y_pred, y, mask)")),
    "hidden_state_reset": (13, lambda nbs: replace(nbs[NB3], "train_char_model", "mask, a, parameters",
                                                   "mask, np.zeros((n_a, m)), parameters")),
    # Right, and written unlike the reference: the grader answers the calls of the first assignment's
    # functions whatever their form (keywords, a cell at a time, twice on halves).
    "written_differently": (15, lambda nbs: (
        replace(nbs[NB3], "rnn_train_step", "a, y_pred, caches = rnn_forward(x, a0, parameters)", CELL_BY_CELL),
        replace(nbs[NB3], "rnn_train_step", THROUGH_TIME, IN_HALVES),
        replace(nbs[NB3], "rnn_train_step", "clip_gradients(gradients, max_norm)",
                "clip_gradients(gradients, max_norm=max_norm)"),
        replace(nbs[NB3], "train_char_model", "rnn_train_step(x, chunk[:, 1:], mask, a, parameters, adam, learning_rate, "
                "max_norm)", "rnn_train_step(x=x, y=chunk[:, 1:], mask=mask, a0=a, parameters=parameters, adam=adam,\n"
                "            learning_rate=learning_rate, max_norm=max_norm)"))),
}
