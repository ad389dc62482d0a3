"""The only grader code that runs in a student's kernel. It holds no secret.

A graded test cell's hidden region calls `probe(grade_id, globals())`. While grading,
the grader has written every request of the notebook, before its kernel started, into
a read-only folder (named by $AUTOGRADER_REQUESTS): the graded function's name, the
arguments of its hidden cases, and for each function it depends on an *oracle table*:
the calls a correct implementation makes on those inputs, and what they return. No
reference source ever enters a kernel.

The probe puts an oracle in place of each dependency (it answers from its table,
matching arguments by value within tolerance; a call a correct solution does not make
goes to the student's own definition, or fails), calls the student's function on each
case, and puts the student's namespace back as it was when the test cell ends (its
visible tests run on the same oracles, whose tables also hold the calls made on the
visible examples, all public): what a probe installs never outlives its cell, whatever
the cell order. It publishes what came back (and the arguments
afterwards, to see mutation) as plain data on the kernel's output channel: float64
arrays, numbers, strings, tuples, lists and dicts. The grader takes that message out
of the notebook, computes the expected values itself, and decides. Nothing the kernel
prints, patches or returns can make a wrong answer pass.

Outside grading (nbval, an instructor running a source notebook) there is no request
folder, and the same run is judged in this process (`autograder.hidden.check`).

This module imports only the standard library and numpy: the grader ships it alone.
"""

import base64
import copy
import json
import math
import os
import traceback

import numpy as np

REQUESTS_ENV = "AUTOGRADER_REQUESTS"
REPLY_MIME = "application/vnd.autograder.reply+json"
MAX_ARRAY_BYTES = 4 * 2 ** 20   # outputs larger than this are not data we need (hidden inputs are small)
MAX_CHARS = 16 * 2 ** 20        # a reply's text, at most (the grader refuses longer ones unread)
MAX_NODES = 200_000             # values in a reply's structure, at most (counted before parsing)


def encode(value, arrays, depth=0, max_depth=8):
    """A JSON-able description of `value`, its arrays appended to `arrays` as float64 copies."""
    if depth > max_depth:
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
        return {type(value).__name__: [encode(v, arrays, depth + 1, max_depth) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"dict": {k: encode(v, arrays, depth + 1, max_depth) for k, v in value.items()}}
    return {"other": type(value).__name__}


# The integer and boolean dtypes a request's arrays get back (targets, masks: indices must be
# integers). A reply's arrays stay float64: the grader reads every reply as floats.
TYPED = ("int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8", "bool")


def decode(spec, arrays, typed=False):
    """Inverse of encode; anything else decodes to an Unknown that equals nothing. `typed`: the
    arrays of an integer or boolean dtype get it back (a request, which the grader wrote)."""
    if "array" in spec:
        array = arrays[spec["array"]]
        return array.astype(spec["dtype"]) if typed and spec.get("dtype") in TYPED else array
    if "value" in spec:
        return spec["value"]
    if "tuple" in spec:
        return tuple(decode(s, arrays, typed) for s in spec["tuple"])
    if "list" in spec:
        return [decode(s, arrays, typed) for s in spec["list"]]
    if "dict" in spec:
        return {k: decode(s, arrays, typed) for k, s in spec["dict"].items()}
    return Unknown(str(spec.get("other", "something unreadable")))


class Unknown:
    """What a probe could not turn into data (an object of the student's own type, say)."""

    def __init__(self, description):
        self.description = description

    def __repr__(self):
        return f"<{self.description}>"


def dumps(value, max_depth=8):
    """`value` as one JSON text: its structure, each array's shape, and all the arrays' values
    one after another (float64, base64). No pickles, nothing to execute. A reply nests 8 deep at
    most (a student's object may nest for ever); a request's oracle tables nest deeper."""
    arrays = []
    structure = encode(value, arrays, max_depth=max_depth)
    values = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    return json.dumps({"structure": structure, "shapes": [a.shape for a in arrays],
                       "values": base64.b64encode(values.astype("<f8").tobytes()).decode("ascii")})


def loads(text, max_chars=MAX_CHARS, max_nodes=MAX_NODES, typed=False):
    """Read what `dumps` wrote. Its size and number of values are checked before it is parsed,
    so a hostile reply costs the grader at most about `max_chars` of memory; anything that is
    not what `dumps` writes raises ValueError (the kernel that wrote it is not trusted)."""
    if not isinstance(text, str) or len(text) > max_chars:
        raise ValueError("the reply is not text or is too large")
    if text.count("{") + text.count("[") > max_nodes:
        raise ValueError("the reply holds too many values")
    try:
        document = json.loads(text)
        values = np.frombuffer(base64.b64decode(document["values"], validate=True), dtype="<f8")
        arrays, start = [], 0
        for shape in document["shapes"]:
            shape = tuple(int(n) for n in shape)
            size = math.prod(shape)
            if min(shape, default=0) < 0 or start + size > values.size:
                raise ValueError
            arrays.append(values[start:start + size].reshape(shape).astype(np.float64))
            start += size
        return decode(document["structure"], arrays, typed)
    except Exception:  # broken JSON, wrong types, too deep (RecursionError): all refused alike
        raise ValueError("the reply is not what the probe writes") from None


# --- oracles: a dependency's answers on exactly the calls a correct solution makes ---

class OracleMiss(Exception):
    """A dependency was called in a way a correct solution does not call it."""


_asarray = np.asarray  # bound once: a student who patches numpy's functions harms only their own grade


def same_value(a, b, rtol, atol):
    """Whether two arguments are equal: arrays within tolerance (with the array type's own
    operators, which no code in the kernel can replace), containers item by item."""
    if isinstance(b, np.ndarray):
        try:
            a = _asarray(a, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return a.shape == b.shape and bool((abs(a - b) <= atol + rtol * abs(b)).all())
    if isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and \
            all(same_value(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(same_value(a[k], b[k], rtol, atol) for k in b)
    return type(a) is type(b) and a == b


class Oracle:
    """Stands for the dependency `name` while a graded function runs: answers the calls in
    `table` ([(arguments, result)]); any other call goes to `own` (the student's definition
    that the oracle replaced), or raises OracleMiss when there is none.

    `shaped`: a function of an earlier assignment, whose code (the student's or the reference's)
    is not in the kernel. A call a correct solution does not make, on arguments of the shapes
    of one it makes, gets that call's result with every number made NaN: the graded function's
    outputs keep their shapes (its shapes test can pass) and lose their values (its values test
    cannot)."""

    def __init__(self, name, table, own, rtol, atol, shaped=False):
        self.name, self.table, self.own, self.rtol, self.atol = name, table, own, rtol, atol
        self.shaped = shaped
        self.__name__ = name

    def __call__(self, *args):
        for known, result, links in self.table:
            if same_value(args, known, self.rtol, self.atol):
                return relinked(copy.deepcopy(result), links, args)
        if self.shaped:
            for known, result, links in self.table:
                if same_shape(args, known):
                    return relinked(blanked(result), links, args)
        if callable(self.own):
            return self.own(*args)
        raise OracleMiss(f"{self.name} is not defined: run its answer cell.")


def same_shape(a, b):
    """Whether `a` has the structure of `b`: arrays of the same shape, containers item by item,
    numbers of the same type."""
    if isinstance(b, np.ndarray):
        try:
            return _asarray(a, dtype=np.float64).shape == b.shape
        except (TypeError, ValueError):
            return False
    if isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and all(map(same_shape, a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(same_shape(a[k], b[k]) for k in b)
    return type(a) is type(b)


def blanked(value):
    """A copy of `value` with NaN for every float (arrays of floats included)."""
    if isinstance(value, np.ndarray):
        return np.full(value.shape, np.nan) if value.dtype.kind == "f" else value.copy()
    if type(value) is float:
        return math.nan
    if isinstance(value, (tuple, list)):
        return type(value)(blanked(v) for v in value)
    if isinstance(value, dict):
        return {k: blanked(v) for k, v in value.items()}
    return value


def relinked(result, links, args):
    """`result` with the caller's own arguments where the function keeps them ([(path, i)]:
    result[path] is args[i]), as the function the oracle stands for returns them."""
    for path, i in links:
        if isinstance(path, list) and isinstance(i, int) and 0 <= i < len(args):
            result = _put(result, path, args[i])
    return result


def _put(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if not (isinstance(value, (tuple, list)) and isinstance(head, int) and 0 <= head < len(value)):
        return value
    items = list(value)
    items[head] = _put(items[head], rest, new)
    return type(value)(items)


_MISSING = object()


def run(request, namespace, until_cell_ends=False):
    """Call the student's function on every case of `request`, with oracles in place of its
    dependencies. The namespace is put back as it was afterwards: at once, or (`until_cell_ends`,
    in IPython) when the test cell ends, so that the cell's visible tests also run on correct
    dependencies, as the hidden ones do. Returns the replies."""
    function, rtol, atol = request["function"], request["rtol"], request["atol"]
    oracles = request["oracles"]
    saved = {name: namespace.get(name, _MISSING) for name in oracles}
    student = namespace.get(function)

    def restore(*args):
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value
    replies = []
    try:
        for name, table in oracles.items():
            own = saved[name] if saved[name] is not _MISSING else None
            namespace[name] = Oracle(name, table, own, rtol, atol, shaped=name in request.get("shaped", ()))
        with np.errstate(all="ignore"):
            for args in request["cases"]:
                args = list(copy.deepcopy(args))
                if not callable(student):
                    replies.append(_syntax_error(function, namespace) or {"error": "missing"})
                    continue
                try:
                    result = student(*args)
                except Exception as error:
                    replies.append(_error(error))
                    continue
                replies.append({"result": result, "args_after": tuple(args)})
    finally:
        if not (until_cell_ends and _after_this_cell(restore)):
            restore()
    return replies


def _error(error):
    """A reply for the student's exception: its type, the first line of its text and the
    student's line it came from (the grader cuts both and blanks any number in them)."""
    line = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        name = frame.filename.replace("\\", "/")
        if name != __file__ and "/numpy/" not in name and "/lib/python" not in name and frame.line:
            line = f"line {frame.lineno}: {frame.line.strip()}"
            break
    try:
        text = str(error)
    except Exception:  # a student's exception whose __str__ fails
        text = ""
    return {"error": type(error).__name__, "message": text.strip().split("\n")[0][:500], "line": line[:500]}


def _syntax_error(function, namespace):
    """When `function` is not defined because the last cell defining it does not parse: a
    "missing" reply saying why (from the cells the kernel ran, IPython's In, read as IPython
    reads them: %magics and !commands are not Python), else None."""
    cells = namespace.get("_ih")
    if not isinstance(cells, list):
        return None
    try:
        transform = get_ipython().transform_cell  # noqa: F821 (a builtin in IPython)
    except Exception:
        def transform(cell):
            return cell
    for cell in reversed(cells):
        if isinstance(cell, str) and f"def {function}(" in cell:
            try:
                compile(transform(cell), "<answer cell>", "exec")
            except SyntaxError as error:
                text = (error.text or "").strip()
                return {"error": "missing", "syntax_error": str(error.msg)[:500],
                        "line": f"line {error.lineno}: {text}"[:500] if error.lineno else ""}
            except Exception:
                return None
            return None
    return None


def _after_this_cell(callback):
    """Run `callback` once, when the running IPython cell ends; False outside IPython."""
    try:
        shell = get_ipython()  # noqa: F821 (a builtin in IPython)
    except NameError:
        return False

    def once(*args):
        shell.events.unregister("post_run_cell", once)
        callback()
    shell.events.register("post_run_cell", once)
    return True


def probe(grade_id, namespace):
    """Run the hidden cases of `grade_id` on the function in `namespace` (see the module docstring)."""
    folder = os.environ.get(REQUESTS_ENV)
    if folder is None:
        from autograder import hidden  # not grading: check here, against the reference
        return hidden.check(grade_id, namespace)
    try:
        with open(os.path.join(folder, os.path.basename(grade_id)), encoding="ascii") as file:
            request = loads(file.read(), max_chars=2 ** 31, max_nodes=2 ** 31, typed=True)
    except (OSError, ValueError):
        return  # no reply: the grader says the hidden tests did not complete
    reply = dumps(run(request, namespace, until_cell_ends=True))
    from IPython.display import publish_display_data
    publish_display_data({REPLY_MIME: reply}, metadata={"grade_id": grade_id})
