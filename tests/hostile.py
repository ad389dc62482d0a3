"""The hardening corpus: broken and hostile submissions, each with the score it must get.

Written to tests/fixtures/hostile/ by `make fixtures` (python -m tests.hostile OUTDIR),
kept fresh by a test, graded end to end by tests/test_grade_hostile.py. Every student
starts from the complete answer (autograder.sample) and changes one thing; the
expected score says which tests that costs (24 = nothing: no edit touches 4_lstm.ipynb). Where the sandbox enforces
something only as root, the score differs with and without root: (as root, as a user).
"""

import re
import sys
from pathlib import Path

import nbformat

from autograder import reference, sample
from autograder.sample import replace
from tests.helpers import RNN

NB1, NB2, NB3, NB4 = RNN.grading.NB1, RNN.grading.NB2, RNN.grading.NB3, RNN.grading.NB4

RETURN_1 = "    return a_next, yt_pred, cache"
WRONG_1 = "    return a_next * 0, yt_pred * 0, cache"
WRONG_1_IN_IF = "        return a_next * 0, yt_pred * 0, cache"

# Looks for grader files on disk the way an attacker would; remembers the answer per kernel.
SEARCH = '''    import os
    global _FOUND
    if "_FOUND" not in globals():
        _FOUND = []
        for top in ("/work", "/tmp", "/root", "/home"):
            for folder, subfolders, files in os.walk(top):
                subfolders[:] = [d for d in subfolders if d not in (".venv", ".git", "site-packages", "node_modules")
                                 and folder.count("/") < 9]
                _FOUND += [os.path.join(folder, f) for f in files if {TEST}]
'''


def searching(test, then):
    return SEARCH.replace("{TEST}", test) + then


def set_kernel(nbs, name):
    nbs[name].metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}


def strip_metadata(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)


def to_markdown(nb, grade_id):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.cell_type = "markdown"
    for key in ("outputs", "execution_count"):
        cell.pop(key, None)


def add_to_answer(nb, grade_id, code):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source += "\n\n" + code


def edit_test(nbs):
    cell = next(c for c in nbs[NB2].cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_forward_values")
    cell.source = "pass  # tests? what tests?"
    replace(nbs[NB2], "rnn_forward", "x[:, :, t], a_next, parameters", "x[:, :, t], a0, parameters")


def reorder_backward(nbs):
    """rnn_backward (written to need no rnn_cell_backward) and its tests moved to the top of
    notebook 3, rnn_cell_backward left as `pass`: what the probe installed for rnn_backward's
    test once stayed in the notebook and passed rnn_cell_backward's tests."""
    nb = nbs[NB3]
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    own_cell = cells["rnn_cell_backward"].source.replace("def rnn_cell_backward(", "def own_cell_backward(")
    cells["rnn_backward"].source = own_cell + "\n\n" + cells["rnn_backward"].source.replace(
        "rnn_cell_backward(", "own_cell_backward(")
    cells["rnn_cell_backward"].source = "pass"
    moved = [cells[g] for g in ("rnn_backward", "rnn_backward_shapes", "rnn_backward_values")]
    rest = [c for c in nb.cells if all(c is not m for m in moved)]
    top = next(i for i, c in enumerate(rest) if c is cells["load_previous"]) + 1
    nb.cells = rest[:top] + moved + rest[top:]


# The leak per-submission draws close (README, the probe): in rnn_backward's test cells the grader
# answers rnn_cell_backward on any arguments, and the kernel can read rnn_cell_backward's hidden
# inputs; rnn_backward asks for the answers on them and prints them, for the feedback to show (its
# visible tests print what it prints). A table: {a digest of da_next: {gradient: [shape, float32 in
# base64]}}, compressed, on one line after HARVEST.
HARVESTS_ANSWERS = """    from autograder.probe import Oracle
    global _TABLE
    if isinstance(rnn_cell_backward, Oracle):  # in rnn_backward's test cells: the grader answers it
        if not globals().get("_TABLE"):
            import base64, hashlib, json, os, zlib
            from autograder.probe import loads
            with open(os.path.join(os.environ["AUTOGRADER_REQUESTS"], "rnn_cell_backward_values")) as _file:
                _request = loads(_file.read(), max_chars=2 ** 31, max_nodes=2 ** 31, typed=True)
            _table = {}
            for _da, _cache in _request["cases"]:
                _table[hashlib.sha256(_da.tobytes()).hexdigest()[:16]] = {
                    _name: [list(_value.shape), base64.b64encode(_value.astype(np.float32).tobytes()).decode()]
                    for _name, _value in rnn_cell_backward(_da, _cache).items()}
            _TABLE = base64.b64encode(zlib.compress(json.dumps(_table).encode(), 9)).decode()
        print("HARVEST " + _TABLE)
"""
PRINTED_TABLE = re.compile(r"HARVEST ([A-Za-z0-9+/=]+)")
# The resubmission: rnn_cell_backward answers from the printed table where it knows the input.
LOOKS_UP = """    _key = hashlib.sha256(np.asarray(da_next, dtype=np.float64).tobytes()).hexdigest()[:16]
    if _key in TABLE:  # an input whose answers the grader printed: hard-coded
        return {name: np.frombuffer(base64.b64decode(data), dtype=np.float32).astype(np.float64).reshape(shape)
                for name, (shape, data) in TABLE[_key].items()}
"""


# The shapes of da_next (n_a, m) in the visible examples, which no hidden case has.
VISIBLE_SHAPES = tuple((case["n_a"], case["m"]) for case in
                       ({**RNN.checks.EXAMPLE_DEFAULTS, **example} for example in RNN.checks.EXAMPLES.values()))


def prints_a_dependencys_answers(nbs):
    """The first submission: its own rnn_cell_backward wrong where only the hidden tests see it (tanh
    applied twice but on the visible examples' shapes: it passes every visible test, so that the
    hidden answers alone would give it full marks), rnn_backward right, and printing
    rnn_cell_backward's answers on its hidden inputs."""
    replace(nbs[NB3], "rnn_cell_backward", "(1 - a_next ** 2)",
            f"(1 - (a_next if da_next.shape in {VISIBLE_SHAPES!r} else np.tanh(a_next)) ** 2)")
    replace(nbs[NB3], "rnn_backward", "    (caches, x) = caches\n", HARVESTS_ANSWERS + "    (caches, x) = caches\n")


def printed_table(feedback_page):
    """The table the first submission printed, as its feedback page shows it (None if it shows none)."""
    found = PRINTED_TABLE.search(feedback_page)
    return found.group(1) if found else None


def harvested(table):
    """{digest of da_next: {gradient: array}} of a printed table."""
    import base64
    import json
    import zlib

    import numpy as np
    return {key: {name: np.frombuffer(base64.b64decode(data), dtype=np.float32).astype(np.float64).reshape(shape)
                  for name, (shape, data) in answers.items()}
            for key, answers in json.loads(zlib.decompress(base64.b64decode(table))).items()}


def hard_codes(nbs, table):
    """The resubmission: the first submission with the printed `table` hard-coded in rnn_cell_backward."""
    cell = next(c for c in nbs[NB3].cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_cell_backward")
    cell.source = f'import base64, hashlib, json, zlib\nTABLE = json.loads(zlib.decompress(base64.b64decode("{table}")))' \
        "\n\n\n" + cell.source
    replace(nbs[NB3], "rnn_cell_backward", "    (a_next, a_prev, xt, parameters) = cache\n",
            LOOKS_UP + "    (a_next, a_prev, xt, parameters) = cache\n")


EXIT_THREAD = "ctypes.CDLL(None).syscall(60 if platform.machine() == 'x86_64' else 93, 0)"
NOTES = ("/dev/shm/notes", "/run/lock/notes", "/tmp/notes", "/var/tmp/notes")
# Student A leaves notes where every kernel could once write; student B's answer is right only with them.
LEAVES_NOTES = "for _path in %r:\n    try:\n        open(_path, 'w').write('rnn_cell_backward')\n" \
               "    except OSError:\n        pass" % (NOTES,)
NEEDS_NOTES = "    import os\n    if not any(os.path.exists(p) for p in %r):\n" \
              "        return {key: value * 2 for key, value in gradients.items()}\n    return gradients" % (NOTES,)


FAN_OUT = """import os, select
_held_r, _held_w = os.pipe()
_go_r, _go_w = os.pipe()
_kids = []
for _i in range(10):
    _pid = os.fork()
    if _pid == 0:
        try:
            _block = bytearray(2 ** 28)
            os.write(_held_w, b'x')
            os.read(_go_r, 1)
        finally:
            os._exit(0)
    _kids.append(_pid)
_held, _dead = 0, set()
while _held + len(_dead) < 10:
    if select.select([_held_r], [], [], 0.05)[0]:
        _held += len(os.read(_held_r, 10))
    _dead |= {_pid for _pid in set(_kids) - _dead if os.waitpid(_pid, os.WNOHANG)[0] == _pid}
_ALIVE = 10 - len(_dead | {_pid for _pid in set(_kids) - _dead if os.waitpid(_pid, os.WNOHANG)[0] == _pid})
os.write(_go_w, b'x' * 10)
for _pid in set(_kids) - _dead:
    os.waitpid(_pid, 0)"""


NB1_TESTS = ["rnn_cell_forward_shapes", "rnn_cell_forward_values"]
NB2_TESTS = ["rnn_forward_shapes", "rnn_forward_values"]
NB3_TESTS = ["rnn_cell_backward_shapes", "rnn_cell_backward_values", "rnn_backward_shapes", "rnn_backward_values"]

# name -> (score as root, score as a user, failed tests, words in their message, edit)
STUDENTS = {
    "control": (24, 24, [], "", lambda nbs: None),
    # --- broken ---
    "empty_file": (21, 21, NB1_TESTS, "1_rnn_cell_forward.ipynb is empty", lambda nbs: nbs.update({NB1: b""})),
    "extra_notebooks": (24, 24, [], "", lambda nbs: nbs.update({"scratch": nbs[NB1], "Untitled": nbs[NB2]})),
    # nbgrader's OverwriteCells restores the type of a released cell: nothing is lost.
    "changed_cell_type": (24, 24, [], "", lambda nbs: to_markdown(nbs[NB2], "rnn_forward")),
    "edited_test_cell": (22, 22, ["rnn_forward_values"], "rnn_forward: wrong values", edit_test),
    # its tests are put back from the gradebook (after its code) and run: the right code keeps its points
    "stripped_metadata": (24, 24, [], "", lambda nbs: strip_metadata(nbs[NB3])),
    "changed_kernel": (24, 24, [], "", lambda nbs: set_kernel(nbs, NB1)),
    # In a cell of its own at the end: the kernel may die of it (its memory is the sandbox's), costing nothing.
    "output_300mb": (24, 24, [], "", lambda nbs: nbs[NB4].cells.append(
        nbformat.v4.new_code_cell("print('x' * (300 * 2 ** 20))", id="prints-300mb"))),
    "loop_at_import": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward", "while True:\n    pass")),
    # Its traceback of thousands of frames may outlast the cell's timeout on a loaded machine:
    # the reason is then the timeout, so only the function is named here.
    "deep_recursion": (21, 21, NB2_TESTS, "rnn_forward", lambda nbs: replace(
        nbs[NB2], "rnn_forward", "    caches = []\n", "    caches = []\n    return rnn_forward(x, a0, parameters)\n")),
    "sys_exit": (21, 21, NB1_TESTS, "", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
                                                           "    import sys; sys.exit(0)\n" + RETURN_1)),
    "segfault": (21, 21, ["rnn_cell_backward_shapes", "rnn_cell_backward_values"], "kernel died", lambda nbs: replace(
        nbs[NB3], "rnn_cell_backward", "    gradients = {", "    import ctypes; ctypes.string_at(0)\n    gradients = {")),
    "memory_hog": (21, 21, NB2_TESTS, "MemoryError", lambda nbs: replace(
        nbs[NB2], "rnn_forward", "    caches = []\n", "    caches = [np.ones(int(6e9))]\n")),
    "fork_bomb": (24, 24, [], "", lambda nbs: replace(nbs[NB3], "rnn_cell_backward", "    gradients = {",
        "    import os, time\n    global _CHILDREN\n    if '_CHILDREN' not in globals():\n        _CHILDREN = 0\n"
        "        try:\n            while _CHILDREN < 300:\n                if os.fork() == 0:\n"
        "                    time.sleep(600); os._exit(0)\n                _CHILDREN += 1\n"
        "        except OSError:\n            pass\n    gradients = {")),
    "writes_files": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward",
        "import os\nopen('notes.txt', 'w').write('hi')\nopen('rnn_utils.py', 'w').write('raise SystemExit')\n"
        "os.symlink('/etc/passwd', '2_rnn_forward.ipynb.link')")),
    "sleep_past_timeout": (21, 21, NB2_TESTS, "did not finish within the time limit", lambda nbs: replace(
        nbs[NB2], "rnn_forward", "    caches = []\n", "    import time; time.sleep(60)\n    caches = []\n")),
    # --- hostile ---
    "patched_comparisons": (21, 21, NB1_TESTS, "rnn_cell_forward", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
        "    np.allclose = lambda *args, **kwargs: True\n    np.array_equal = lambda *args, **kwargs: True\n"
        "    np.testing.assert_allclose = lambda *args, **kwargs: None\n" + WRONG_1)),
    "lies_about_equality": (21, 21, NB1_TESTS, "rnn_cell_forward", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
        "    class Anything:\n        shape = a_next.shape\n        def __eq__(self, other):\n            return True\n"
        "    return Anything(), Anything(), cache")),
    "reads_caller": (21, 21, NB1_TESTS, "rnn_cell_forward", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
        "    import inspect\n    frame = inspect.currentframe().f_back\n    while frame is not None:\n"
        "        for name in ('expected', 'want', 'reference', 'ref'):\n            if name in frame.f_locals:\n"
        "                return frame.f_locals[name]\n        frame = frame.f_back\n" + WRONG_1)),
    "reads_hidden_from_disk": (24, 24, [], "rnn_cell_forward", lambda nbs: replace(nbs[NB1], "rnn_cell_forward",
        RETURN_1, searching("f == 'hidden.py' or (f == '1_rnn_cell_forward.ipynb' and 'source' in folder)",
                            "    if _FOUND:  # found the reference: this answer says so\n" + WRONG_1_IN_IF + "\n" + RETURN_1))),
    "writes_gradebook": (24, 24, [], "", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
        searching("f in ('gradebook.db', 'grades.csv') and os.access(os.path.join(folder, f), os.W_OK)",
                  "    if _FOUND:  # it could have overwritten the grades: this answer says so\n" + WRONG_1_IN_IF
                  + "\n" + RETURN_1))),
    "imports_grader": (21, 21, NB1_TESTS, "rnn_cell_forward", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
        "    try:\n        from autograder import reference\n"
        "        return reference.named(\"rnn_step_by_step\").load().rnn_cell_forward(xt, a_prev, parameters)\n"
        "    except ImportError:\n"
        + WRONG_1.replace("    ", "        ", 1))),
    # Isolated: the sandbox's own loopback is the only network it sees (the host's services are elsewhere).
    "network": (24, 24, [], "", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
        "    import socket\n    isolated = [name for _, name in socket.if_nameindex()] == ['lo']\n"
        "    if not isolated:\n" + WRONG_1.replace("    ", "        ", 1) + "\n" + RETURN_1)),
    "hides_tracebacks": (21, 21, NB1_TESTS, "rnn_cell_forward", lambda nbs: (
        replace(nbs[NB1], "rnn_cell_forward", RETURN_1, WRONG_1),
        add_to_answer(nbs[NB1], "rnn_cell_forward",
                      "ip = get_ipython()\nip.set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n"
                      "ip.showtraceback = lambda *args, **kwargs: None"))),
    "prints_passed": (21, 21, NB1_TESTS, "rnn_cell_forward", lambda nbs: replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
        "    print('All shape tests passed.'); print('All value tests passed.'); print('Passed.')\n" + WRONG_1)),
    # --- the sandbox (issue 13) and the probe (issue 14) ---
    "reordered_cells": (21, 21, ["rnn_cell_backward_shapes", "rnn_cell_backward_values"], "rnn_cell_backward",
                        reorder_backward),
    "prints_requests": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward",
        "import os\n_folder = os.environ.get('AUTOGRADER_REQUESTS', '.')\n"
        "for _name in sorted(os.listdir(_folder)):\n    print(_name, open(os.path.join(_folder, _name)).read()[:20000])")),
    # Notebooks 2 and 3 load notebook 1's answer cell (load_functions), so the sabotage reaches them too.
    "silences_probe": (12, 12, NB1_TESTS + NB2_TESTS + NB3_TESTS, "the hidden tests did not complete", lambda nbs: add_to_answer(
        nbs[NB1], "rnn_cell_forward",
        "import IPython.display\nIPython.display.publish_display_data = lambda *args, **kwargs: None")),
    "nested_100mb_reply": (12, 12, NB1_TESTS + NB2_TESTS + NB3_TESTS, "the hidden tests did not complete", lambda nbs: add_to_answer(
        nbs[NB1], "rnn_cell_forward",
        "import IPython.display\n_publish = IPython.display.publish_display_data\n"
        "IPython.display.publish_display_data = lambda data, metadata=None, **kwargs: _publish(\n"
        "    {key: '[' * (50 * 2 ** 20) + ']' * (50 * 2 ** 20) for key in data}, metadata=metadata)")),
    "plants_links_and_fifos": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward",
        "import os\nos.makedirs('.autograder_probe', exist_ok=True)\n"
        "for _i, _target in enumerate(['../../../../../course/gradebook.db', '/etc/passwd', '../../../gradebook.db']):\n"
        "    os.symlink(_target, f'.autograder_probe/rnn_cell_forward_values.request.json{_i}')\n"
        "os.symlink('../../../../../course/gradebook.db', '.autograder_probe/rnn_cell_forward_values.request.json')\n"
        "os.mkfifo('.autograder_probe/rnn_cell_forward_values.reply.json')\nos.mkfifo('rnn_utils.fifo')")),
    "zombie_leader": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward",
        "import ctypes, os, platform, threading, time\nif os.fork() == 0:\n"
        "    threading.Thread(target=lambda: time.sleep(600)).start()\n    " + EXIT_THREAD)),
    "leaves_notes": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward", LEAVES_NOTES)),
    "reads_notes": (22, 22, ["rnn_cell_backward_values"], "rnn_cell_backward",
                    lambda nbs: replace(nbs[NB3], "rnn_cell_backward", "    return gradients", NEEDS_NOTES)),
    "fills_disk": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward",
        "try:\n    for _i in range(8):\n        with open(f'fill{_i}.bin', 'wb') as _file:\n"
        "            _file.write(b'\\0' * (100 * 2 ** 20))\nexcept OSError:\n    pass")),
    # Ten processes of 256 MiB each, held at once (each well within its own address-space limit):
    # past a 2 GiB cgroup (as root) one is killed; without a cgroup all ten live. The answer says
    # which. Each child reports once it holds its block and waits to be let go, so the cell takes
    # about a second, whatever the machine's load (its tests run with a 5 s cell timeout).
    "memory_fan_out": (24, 21, [], "", lambda nbs: (add_to_answer(nbs[NB1], "rnn_cell_forward", FAN_OUT),
        replace(nbs[NB1], "rnn_cell_forward", RETURN_1,
                "    if globals().get('_ALIVE') == 10:  # it held 2.5 GiB\n" + WRONG_1_IN_IF + "\n" + RETURN_1))),
    "kills_the_grader": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward",
        "import os, signal\nfor _pid in (os.getppid(), -1):\n    try:\n        os.kill(_pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass")),
    "writes_the_venv": (24, 24, [], "", lambda nbs: add_to_answer(nbs[NB1], "rnn_cell_forward",
        "import os, site\nfor _folder in site.getsitepackages() + [os.path.dirname(os.__file__)]:\n    try:\n"
        "        open(os.path.join(_folder, 'zz_hostile.pth'), 'w').write('import os\\n')\n    except OSError:\n"
        "        pass")),
    # A failing test made a written answer (solution flag): it would wait for a hand grade instead
    # of scoring 0. nbgrader's checksum of the locked cell includes the flag: the notebook cannot be
    # graded, and scores 0 (21 here, where an honest wrong answer keeps its shapes point: 22).
    "test_marked_written": (21, 21, NB1_TESTS, "could not be graded", lambda nbs: (
        replace(nbs[NB1], "rnn_cell_forward", RETURN_1, WRONG_1),
        next(c for c in nbs[NB1].cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_cell_forward_values")
        .metadata.nbgrader.update(solution=True))),
    # Metadata only the grader writes, written by the student: a "could not be graded" banner on
    # their own page, and a visible-output marker in a test cell. Neither is taken from the file.
    "fakes_grader_metadata": (24, 24, [], "", lambda nbs: (
        nbs[NB1].metadata.update(autograder={"problem": "FAKE BANNER: the grader lost this notebook"}),
        next(c for c in nbs[NB1].cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_cell_forward_values")
        .metadata.update(autograder={"visible_outputs_from": 10 ** 6}))),
    # The first step of the attack above: its feedback shows the answers; the resubmission that
    # hard-codes them (hard_codes) is graded by tests/test_grade_hostile.py, and gains nothing.
    "prints_a_dependencys_answers": (22, 22, ["rnn_cell_backward_values"], "rnn_cell_backward: wrong values",
                                     prints_a_dependencys_answers),
}


# --- the second assignment: its training step runs the first one's RNN, answered by the grader ---
# Each kernel asks the grader for the calls of the dependencies of the function whose test cell
# runs (autograder/oracles.py); these students try to get more out of that line than a right
# answer would. Scores out of 15 (as root and as a user alike).

LM = reference.named("char_language_model")
NB3_LM = LM.grading.NB3
STEP_TESTS, TRAIN_TESTS = ["rnn_train_step_shapes", "rnn_train_step_values"], \
    ["train_char_model_shapes", "train_char_model_values"]
STEP = "def rnn_train_step(x, y, mask, a0, parameters, adam, learning_rate, max_norm):\n"
TRAIN = "def train_char_model(data, parameters, n_steps, seq_length, learning_rate, max_norm):\n"
# The reference step after its forward pass, written out: what a cheat keeps of a right answer.
STEP_AFTER_FORWARD = '''    scores = np.einsum("ya,amt->ymt", parameters["Wya"], a) + parameters["by"][:, :, np.newaxis]
    loss, dscores = temporal_softmax_loss(scores, y, mask)
'''
STEP_END = '''    gradients = {key: through_time[key] for key in ("dWax", "dWaa", "dba")}
    gradients["dWya"] = np.einsum("ymt,amt->ya", dscores, a)
    gradients["dby"] = np.sum(dscores, axis=(1, 2))[:, np.newaxis]
    new_parameters, new_adam = adam_update(parameters, clip_gradients(gradients, max_norm), adam, learning_rate)
    return loss, a[:, :, -1], new_parameters, new_adam
'''


def answer(nb, function, source):
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == function).source = source


def move_to_end(nb, grade_ids):
    moved = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in grade_ids]
    nb.cells = [c for c in nb.cells if c not in moved] + moved


LM_STUDENTS = {
    # name: (exact score, the tests that fail, words in their messages, edit)
    "control": (15, [], "", lambda nbs: None),
    # The tables of answers the kernel once held: the loss and the clipped gradients looked up, not computed.
    "reads_oracle_tables": (12, STEP_TESTS, "rnn_train_step", lambda nbs: answer(nbs[NB3_LM], "rnn_train_step", STEP + '''
    a, y_pred, caches = rnn_forward(x, a0, parameters)
    loss = next(r for args, r, _ in temporal_softmax_loss.table if args[0].shape == x.shape)[0]
    clipped = next(r for args, r, _ in clip_gradients.table if args[0]["dWax"].shape == parameters["Wax"].shape)
    new_parameters, new_adam = adam_update(parameters, clipped, adam, learning_rate)
    return loss, a[:, :, -1], new_parameters, new_adam
''')),
    # A training run read from the step's table instead of run.
    "reads_a_training_runs_answers": (12, TRAIN_TESTS, "train_char_model", lambda nbs: answer(
        nbs[NB3_LM], "train_char_model", TRAIN + '''
    rows = [r for args, r, _ in rnn_train_step.table if args[0].shape[2] == seq_length][:n_steps]
    return np.array([float(r[0]) for r in rows]), rows[-1][2]
''')),
    # A call no right answer makes (rnn_backward on zeros, not on the scores' gradient), in the hope of
    # an answer to swap in: the grader answers that call, rightly, and the values are wrong.
    "calls_with_garbage_for_a_right_answer": (13, ["rnn_train_step_values"], "rnn_train_step", lambda nbs: answer(
        nbs[NB3_LM], "rnn_train_step", STEP + "    a, y_pred, caches = rnn_forward(x, a0, parameters)\n"
        + STEP_AFTER_FORWARD + "    through_time = rnn_backward(np.zeros_like(a), caches)\n"
        + "    if np.isnan(through_time[\"dWax\"]).any():\n        through_time = rnn_backward.table[0][1]\n" + STEP_END)),
    # The step's oracle, kept from the training run's test cell (moved before the step's own tests),
    # to answer the step's own tests: the grader answers only the running cell's dependencies, and not
    # the step while its own tests are still to run (so the run's tests fail too).
    "stashes_an_oracle_for_a_later_cell": (9, STEP_TESTS + TRAIN_TESTS, "rnn_train_step", lambda nbs: (
        answer(nbs[NB3_LM], "rnn_train_step", STEP + "    return STASHED[0](x, y, mask, a0, parameters, adam, "
               "learning_rate, max_norm)\n\n\nSTASHED = []\n"),
        answer(nbs[NB3_LM], "train_char_model", TRAIN + "    STASHED.append(rnn_train_step)\n"
               + LM.sources(["train_char_model"])["train_char_model"].split("max_norm):\n", 1)[1]),
        move_to_end(nbs[NB3_LM], set(STEP_TESTS)))),
    # The training run's test cells moved before the step's: the run reads the step's hidden inputs
    # (the request folder is readable) and asks the step's oracle for their answers, to return them in
    # the step's own cells. The grader answers no function whose test cells are still to run.
    "moves_a_cell_to_harvest_answers": (9, STEP_TESTS + TRAIN_TESTS, "rnn_train_step", lambda nbs: (
        answer(nbs[NB3_LM], "rnn_train_step", "HARVEST = []\n\n\n" + STEP + '''    for args, result in HARVEST:
        if np.array_equal(args[0], x) and np.array_equal(args[3], a0):
            return result
    raise LookupError("nothing harvested for these inputs")
'''),
        answer(nbs[NB3_LM], "train_char_model", TRAIN + '''    import os
    from autograder.probe import loads
    try:
        with open(os.path.join(os.environ["AUTOGRADER_REQUESTS"], "rnn_train_step_values")) as f:
            request = loads(f.read(), max_chars=2 ** 31, max_nodes=2 ** 31, typed=True)
        HARVEST.extend((case, rnn_train_step(*case)) for case in request["cases"])
    except Exception:
        pass
''' + LM.sources(["train_char_model"])["train_char_model"].split("max_norm):\n", 1)[1]),
        move_to_end(nbs[NB3_LM], set(STEP_TESTS)))),
    # The grader's line called directly, for the function under test itself.
    "asks_the_grader_for_its_own_answer": (12, STEP_TESTS, "rnn_train_step", lambda nbs: answer(
        nbs[NB3_LM], "rnn_train_step", STEP + '''    import os
    from autograder.probe import GraderLine
    line = GraderLine(os.environ["AUTOGRADER_REQUESTS"])
    return line("rnn_train_step", (x, y, mask, a0, parameters, adam, learning_rate, max_norm))[0]
''')),
}


def lm_expected():
    return {f"l{i:02d}_{name}": spec[0] for i, (name, spec) in enumerate(LM_STUDENTS.items(), 1)}


def write_lm(out):
    out = Path(out)
    for i, (name, spec) in enumerate(LM_STUDENTS.items(), 1):
        nodes = {n: nbformat.reads(data.decode(), as_version=4)
                 for n, data in sample.student_notebooks(LM, "complete").items()}
        spec[3](nodes)
        folder = out / f"l{i:02d}_{name}" / LM.name
        folder.mkdir(parents=True)
        for notebook, node in nodes.items():
            (folder / f"{notebook}.ipynb").write_bytes(nbformat.writes(node).encode() + b"\n")


def expected(as_root):
    return {f"h{i:02d}_{name}": spec[0 if as_root else 1] for i, (name, spec) in enumerate(STUDENTS.items(), 1)}


def write(out):
    out = Path(out)
    for i, (name, spec) in enumerate(STUDENTS.items(), 1):
        notebooks = sample.student_notebooks(RNN, "complete")
        nodes = {n: nbformat.reads(data.decode(), as_version=4) for n, data in notebooks.items()}
        spec[4](nodes)
        folder = out / f"h{i:02d}_{name}" / "rnn_step_by_step"
        folder.mkdir(parents=True)
        for notebook, node in nodes.items():
            data = node if isinstance(node, bytes) else nbformat.writes(node).encode() + b"\n"
            (folder / f"{notebook}.ipynb").write_bytes(data)


if __name__ == "__main__":
    write(sys.argv[1])
    write_lm(sys.argv[2])
