"""No line of an answer reaches the students: a hint says the idea, never the line to type.

Everything under release/ is readable by any student (the notebooks, rnn_utils.py,
visible_expected.json with the hints of the known mistakes, the lab), so no line of a
solution region of the source notebooks (`### BEGIN SOLUTION` ... `### END SOLUTION`)
may appear in it, nor the right-hand side of such a line (a hint that says
"use softmax(Wya @ a_next + by)" gives the line away as surely as the line itself).

The rule, on both sides with all whitespace removed (`a_next**2` is `a_next ** 2`) and a
loop header's final colon dropped:
- comments and lines under MIN_CHARS characters are not checked: `a_next = a0` or
  `y[:, :, t] = yt` are too short to be an answer on their own and too generic not to
  appear in other code; nor are right-hand sides under MIN_RHS_CHARS (`np.tanh(c_next)`,
  `dc * ft`: a name for a quantity, which hints and the lab's own code must be free to
  write; the whole line `dc_prev = dc * ft` is still checked) or that only allocate
  zeros (`np.zeros((n_a, m))`: the text gives every shape);
- ALLOWED lines are given on purpose by the text of the notebooks, each with the reason;
  each must still be shown there (else the exception is stale).
"""

import json
import re

import pytest

from tests.helpers import ROOT, nbgrader_meta, notebooks, read, region

# Every assignment's answers, looked for in every assignment's release.
SOURCES = sorted(p for p in (ROOT / "source").iterdir() if p.is_dir())
RELEASES = ROOT / "release"

MIN_CHARS = 10
MIN_RHS_CHARS = 16

ALLOWED = {
    "cache = (a_next, a_prev, xt, parameters)":
        "notebook 3 gives the cache's layout to read it back (rnn_utils.CACHE_LAYOUTS holds it too): it is the "
        "API between notebooks 1 and 3, not the answer",
    "concat = np.concatenate((a_prev, xt), axis=0)":
        "notebook 4's text gives the stacking order [a_prev; xt] in code: the weights' columns follow it, so a "
        "student cannot guess it",
    "a_next = a0":
        "notebook 4's steps say where the sequence starts (also under MIN_CHARS)",
    "a, y_pred, caches = rnn_forward(x, a0, parameters)":
        "char_language_model's notebook 3 lists the calls a training step makes: how the functions of the parts "
        "before are called is their API (their docstrings give it); what happens between the calls is the exercise",
    "loss, dscores = temporal_softmax_loss(scores, y, mask)":
        "the same list of calls (notebook 3's step 3)",
    "clipped = clip_gradients(gradients, max_norm)":
        "the same list of calls (notebook 3's step 6, which says what `gradients` must hold: that is the exercise)",
    "adam = adam_state(parameters)":
        "rnn_utils' helper, given, and its one use: notebook 3 says where the optimiser starts",
    "indices = np.array([rng.choice(n_y, p=probs[:, i]) for i in range(m)])":
        "char_language_model's notebook 2 gives the draw word for word: a seeded sample is the same only when "
        "the generator is called in the same order, so the order is the exercise's contract, not its answer",
}


def squeeze(line):
    """The line with all whitespace removed, and a loop header's final colon."""
    return re.sub(r"\s+", "", line).removesuffix(":")


def right_hand_side(line):
    """What a plain or augmented assignment assigns, else None."""
    match = re.match(r"^[^=]*?[^=!<>+\-*/%&|^@]=(?!=)(.*)$", line) or re.match(r"^[^=]*?[+\-*/@]=(.*)$", line)
    return match.group(1) if match else None


def solution_lines():
    """{line as written: notebook} of every line of the solution regions of the source notebooks."""
    lines = {}
    for path in [path for source in SOURCES for path in notebooks(source)]:
        for cell in read(path).cells:
            if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
                for line in region(cell.source, "BEGIN SOLUTION", "END SOLUTION"):
                    if line.strip() and not line.strip().startswith("#"):
                        lines.setdefault(line.strip(), path.name)
    return lines


def secrets():
    """{squeezed text: the solution line it comes from}: each line and its right-hand side."""
    found = {}
    for line in solution_lines():
        if line in ALLOWED:
            continue
        if len(squeeze(line)) >= MIN_CHARS:
            found.setdefault(squeeze(line), line)
        rhs = squeeze(right_hand_side(line) or "")
        if len(rhs) >= MIN_RHS_CHARS and not rhs.startswith("np.zeros("):
            found.setdefault(rhs, line)
    return found


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def readable_text(path):
    """What a student reads in a release file: a notebook's cells, a JSON file's strings,
    a text file; None for a figure."""
    if path.suffix == ".ipynb":
        return "\n".join(cell.source for cell in read(path).cells)
    if path.suffix == ".json":
        return "\n".join(strings(json.loads(path.read_text())))
    if path.suffix in (".png", ".jpg", ".svg", ".gif"):
        return None
    return path.read_text()


def released_files():
    return sorted(p for p in RELEASES.rglob("*") if p.is_file() and readable_text(p) is not None)


def leaks(text):
    """[(what the text gives away, the solution line)], squeezed, for a text a student reads."""
    text = squeeze(text)
    return [(secret, line) for secret, line in secrets().items() if secret in text]


def test_the_rule_sees_answers_in_any_spacing():
    assert right_hand_side("yt_pred = softmax(Wya @ a_next + by)") == " softmax(Wya @ a_next + by)"
    assert right_hand_side("dWax += step[\"dWax\"]") == " step[\"dWax\"]"
    assert right_hand_side("for t in range(T_x):") is None and right_hand_side("a == b") is None
    assert leaks("By the chain rule, dz = da_next * (1 - a_next**2): multiply")
    assert leaks("The prediction uses the new state: softmax(Wya@a_next + by).")
    assert leaks("Start at the last step: for t in reversed(range(T_x)).")
    assert leaks("c_prev enters scaled by the forget gate: dc_prev = dc*ft.")
    assert not leaks("The prediction uses the new state a_next, not a_prev.")
    assert not leaks("a_last = np.zeros((n_a, m))  # the lab's own state")
    assert not leaks("a_next shows the memory squashed, np.tanh(c_next), through the output gate")


def test_the_allowed_lines_are_answer_lines_the_text_shows():
    lines = solution_lines()
    shown = squeeze("\n".join(cell.source for source in SOURCES for path in notebooks(source)
                              for cell in read(path).cells if cell.cell_type == "markdown"))
    for line, reason in ALLOWED.items():
        assert line in lines, f"stale exception, no solution line is {line!r}"
        assert squeeze(line) in shown, f"{line!r} is allowed ({reason}) but no text of the notebooks shows it"


def test_there_are_answers_to_look_for():
    assert len(secrets()) > 60  # the 8 functions' lines and their right-hand sides


@pytest.mark.parametrize("path", released_files(), ids=lambda p: str(p.relative_to(RELEASES)))
def test_no_answer_line_in_the_release(path):
    found = leaks(readable_text(path))
    assert not found, f"{path.name} gives away lines of the solutions (say the idea instead): " + "; ".join(
        repr(line) for line in dict.fromkeys(line for _, line in found))
