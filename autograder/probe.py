"""The only grader code that runs in a student's kernel. It holds no secret.

A graded test cell's hidden region calls `probe(grade_id, globals())`. While grading,
the grader has written the request for that cell into PROBE_DIR just before the cell
runs: the graded function's name, the arguments of every hidden case, and the source
of the correct versions of the functions it depends on. The probe installs those,
calls the student's function on each case, and writes what came back (and the
arguments afterwards, to see mutation) as plain data: float64 arrays, numbers,
strings, tuples, lists and dicts. The grader reads that after the cell, computes the
expected values itself, and decides. Nothing the kernel prints, patches or returns
can make a wrong answer pass: a verdict needs outputs that equal the reference's.

Outside grading (nbval, an instructor running a source notebook) there is no
request, and the probe runs the same checks in this process (`autograder.hidden`).

This module imports only the standard library and numpy: the grader ships it alone.
"""

import json
import math
import os
from pathlib import Path

import numpy as np

PROBE_DIR = ".autograder_probe"
MAX_ARRAY_BYTES = 64 * 2 ** 20  # outputs larger than this are not data we need


def encode(value, arrays, depth=0):
    """A JSON-able description of `value`, its arrays appended to `arrays` as float64 copies."""
    if depth > 8:
        return {"other": "nested too deeply"}
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        try:
            array = np.array(value, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            return {"other": f"array of {getattr(value, 'dtype', type(value).__name__)}"}
        if array.nbytes > MAX_ARRAY_BYTES:
            return {"other": f"array of shape {array.shape}, too large"}
        arrays.append(array)
        return {"array": len(arrays) - 1, "dtype": str(getattr(value, "dtype", "float64"))}
    if value is None or type(value) in (bool, int, float, str):
        return {"value": value if type(value) is not float or np.isfinite(value) else repr(value)}
    if type(value) in (tuple, list):
        return {type(value).__name__: [encode(v, arrays, depth + 1) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"dict": {k: encode(v, arrays, depth + 1) for k, v in value.items()}}
    return {"other": type(value).__name__}


def decode(spec, arrays):
    """Inverse of encode; anything else decodes to an Unknown that equals nothing."""
    if "array" in spec:
        return arrays[spec["array"]]
    if "value" in spec:
        return spec["value"]
    if "tuple" in spec:
        return tuple(decode(s, arrays) for s in spec["tuple"])
    if "list" in spec:
        return [decode(s, arrays) for s in spec["list"]]
    if "dict" in spec:
        return {k: decode(s, arrays) for k, s in spec["dict"].items()}
    return Unknown(str(spec.get("other", "something unreadable")))


class Unknown:
    """What a probe could not turn into data (an object of the student's own type, say)."""

    def __init__(self, description):
        self.description = description

    def __repr__(self):
        return f"<{self.description}>"


def save(stem, value):
    """Write `value` as stem.json (its structure and each array's shape) and stem.npy (all the
    arrays' values one after another, float64, no pickles): one read of one array, where a
    file per array cost a read each (an LSTM reply holds hundreds)."""
    arrays = []
    structure = encode(value, arrays)
    values = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    np.save(f"{stem}.npy", values, allow_pickle=False)
    Path(f"{stem}.json").write_text(json.dumps({"structure": structure, "shapes": [a.shape for a in arrays]}))


def load(stem, max_bytes=512 * 2 ** 20):
    """Read what `save` wrote; refuses pickles, oversized files and shapes the values do not fill
    (ValueError: the kernel that wrote them is not trusted)."""
    for suffix in (".json", ".npy"):
        if os.path.getsize(f"{stem}{suffix}") > max_bytes:
            raise ValueError(f"{Path(stem).name}{suffix} is too large")
    document = json.loads(Path(f"{stem}.json").read_text())
    values = np.load(f"{stem}.npy", allow_pickle=False)
    if values.dtype != np.float64 or values.ndim != 1:
        raise ValueError(f"{Path(stem).name}.npy is not one array of float64")
    arrays, start = [], 0
    try:
        structure = document["structure"]
        for shape in document["shapes"]:
            shape = tuple(int(n) for n in shape)
            size = math.prod(shape)
            if min(shape, default=0) < 0 or start + size > values.size:
                raise ValueError
            arrays.append(values[start:start + size].reshape(shape).copy())
            start += size
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"{Path(stem).name}.json does not describe arrays its values fill") from None
    return decode(structure, arrays)


def request_stem(grade_id):
    return os.path.join(PROBE_DIR, f"{grade_id}.request")


def reply_stem(grade_id):
    return os.path.join(PROBE_DIR, f"{grade_id}.reply")


def _install(sources, namespace):
    """Run the dependencies' reference source in a namespace of their own, bind them in the notebook's."""
    import rnn_utils
    env = {"np": np, "__name__": "reference"}
    env.update({name: getattr(rnn_utils, name) for name in rnn_utils.__all__})
    for name, source in sources.items():
        exec(compile(source, f"<reference {name}>", "exec"), env)
    for name in sources:
        namespace[name] = env[name]


def probe(grade_id, namespace):
    """Run the hidden cases of `grade_id` on the function in `namespace` (see the module docstring)."""
    if not os.path.exists(request_stem(grade_id) + ".json"):
        from autograder import hidden  # not grading: check here, against the reference
        return hidden.check(grade_id, namespace)
    request = load(request_stem(grade_id))
    _install(request["dependencies"], namespace)
    student = namespace.get(request["function"])
    replies = []
    with np.errstate(all="ignore"):
        for args in request["cases"]:
            args = list(args)
            if not callable(student):
                replies.append({"error": "missing"})
                continue
            try:
                result = student(*args)
            except Exception as error:  # the student's error, reported by type (its text may echo inputs)
                replies.append({"error": type(error).__name__})
                continue
            replies.append({"result": result, "args_after": tuple(args)})
    save(reply_stem(grade_id), replies)
