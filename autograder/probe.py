"""The only grader code that runs in a student's kernel. It holds no secret.

A graded test cell's hidden region calls `probe(grade_id, globals())`. While grading,
the grader has written every request of the notebook, before its kernel started, into
a read-only folder (named by $AUTOGRADER_REQUESTS): the graded function's name, the
arguments of its hidden cases, and the functions it depends on. No reference source and
no reference answer ever enters a kernel.

The probe puts an oracle in place of each dependency, calls the student's function on
each case, and puts the student's namespace back as it was when the test cell ends (its
visible tests run on the same oracles): what a probe installs never outlives its cell,
whatever the cell order. An oracle sends each call to the grader, through a socket in
the request folder, and the grader answers it with its reference version of that
dependency, while this test cell runs and for this cell's dependencies only
(autograder/oracles.py): so each function is graded on correct dependencies however it
calls them, and no table of answers sits in the kernel for student code to read. The
probe publishes what came back (and the arguments afterwards, to see mutation) as plain
data on the kernel's output channel: float64 arrays, numbers, strings, tuples, lists
and dicts. The grader takes that message out of the notebook, computes the expected
values itself, and decides. Nothing the kernel prints, patches or returns can make a
wrong answer pass.

Outside grading (nbval, an instructor running a source notebook) there is no request
folder, and the same run is judged in this process (`autograder.hidden.check`), the
oracles answered there.

This module imports only the standard library and numpy: the grader ships it alone.
"""

import base64
import copy
import json
import math
import os
import time
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


def count_values(value):
    """How many numbers a decoded value holds (its arrays' entries, its numbers)."""
    if isinstance(value, np.ndarray):
        return value.size
    if isinstance(value, (tuple, list)):
        return sum(map(count_values, value))
    if isinstance(value, dict):
        return sum(map(count_values, value.values()))
    return 1


class Unknown:
    """What a probe could not turn into data (an object of the student's own type, say)."""

    def __init__(self, description):
        self.description = description

    def __repr__(self):
        return f"<{self.description}>"


def dumps(value, max_depth=8):
    """`value` as one JSON text: its structure, each array's shape, and all the arrays' values
    one after another (float64, base64). No pickles, nothing to execute. A reply nests 8 deep at
    most (a student's object may nest for ever); a request's hidden inputs and a call's arguments nest deeper."""
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


# --- oracles: a dependency answered by the grader's reference, during its test cell ---

class OracleMiss(Exception):
    """The grader did not answer a call of a dependency (it raised on those arguments, or no
    test cell that may call it is running)."""


class Oracle:
    """Stands for the dependency `name` (whose parameters are `parameters`) while a graded
    function runs: every call, keyword arguments bound as Python binds them, is answered by
    `answer(name, arguments)` -> (result, links): the grader's reference version of `name` on
    those arguments, with the caller's own objects put back where that function keeps them.
    The kernel holds no answer it did not ask for."""

    def __init__(self, name, parameters, answer):
        self.name, self.parameters, self._answer = name, tuple(parameters), answer
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        args = bound(self.name, self.parameters, args, kwargs)
        result, links = self._answer(self.name, args)
        return relinked(result, links, args)


def bound(name, parameters, args, kwargs):
    """The positional arguments of a call name(*args, **kwargs) of a function whose parameters
    are `parameters` (none with a default); TypeError as Python says it."""
    if len(args) > len(parameters):
        raise TypeError(f"{name}() takes {len(parameters)} positional arguments but {len(args)} were given")
    twice = [key for key in kwargs if key in parameters[:len(args)]]
    unknown = [key for key in kwargs if key not in parameters]
    if twice or unknown:
        raise TypeError(f"{name}() got multiple values for argument {twice[0]!r}" if twice else
                        f"{name}() got an unexpected keyword argument {unknown[0]!r}")
    missing = [key for key in parameters[len(args):] if key not in kwargs]
    if missing:
        raise TypeError(f"{name}() missing required argument {missing[0]!r}")
    return tuple(args) + tuple(kwargs[key] for key in parameters[len(args):])


class GraderLine:
    """The oracles' line to the grader: the Unix socket it listens on in the request folder
    (autograder/oracles.py). One call at a time: the call's text, the answer's text, each after
    its length (8 bytes, big-endian)."""

    def __init__(self, folder, timeout=120.0):
        self.folder, self.timeout, self.socket = folder, timeout, None

    def __call__(self, name, args):
        try:
            if self.socket is None:
                self.socket = self._connect()
            send(self.socket, dumps({"name": name, "args": list(args)}, max_depth=CALL_DEPTH))
            answer = loads(receive(self.socket, 2 ** 40).decode("ascii"), max_chars=2 ** 40, max_nodes=2 ** 40,
                           typed=True)
        except Exception:
            self.close()  # a line that failed once may hold a late answer: the next call opens a new one
            raise
        if "error" in answer:
            raise OracleMiss(str(answer["error"]))
        return answer["result"], answer["links"]

    def _connect(self):
        import socket
        line = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        line.settimeout(self.timeout)
        folder = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)  # a short path whatever the folder's
        try:
            line.connect(f"/proc/self/fd/{folder}/{SOCKET}")
        except OSError:
            line.close()
            raise
        finally:
            os.close(folder)
        return line

    def close(self):
        if self.socket is not None:
            self.socket.close()
            self.socket = None


SOCKET = "oracle.sock"
CALL_DEPTH = 32  # a call's arguments: caches of tuples of dicts


def send(connection, text):
    data = text.encode("ascii") if isinstance(text, str) else text
    connection.sendall(len(data).to_bytes(8, "big") + data)


def receive(connection, limit, deadline=None, first=b""):
    """One message of at most `limit` bytes (ValueError past it: not read; EOFError when the
    other end has gone), whole by `deadline` (time.monotonic()) when one is given; `first`: its
    first bytes, already read."""
    size = int.from_bytes(first + _exactly(connection, 8 - len(first), deadline), "big")
    if size > limit:
        raise ValueError(f"a message of {size} bytes, more than {limit}")
    return _exactly(connection, size, deadline)


def _exactly(connection, size, deadline=None):
    chunks, left = [], size
    while left:
        if deadline is not None:
            connection.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = connection.recv(min(left, 2 ** 20))
        if not chunk:
            raise EOFError("the other end closed the line")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


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


def run(request, namespace, answer, until_cell_ends=False):
    """Call the student's function on every case of `request`, with oracles in place of its
    dependencies (answered by `answer`). The namespace is put back as it was afterwards: at
    once, or (`until_cell_ends`, in IPython) when the test cell ends, so that the cell's visible
    tests also run on correct dependencies, as the hidden ones do. Returns the replies."""
    function, oracles, signatures = request["function"], request["oracles"], request["signatures"]
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
        for name in oracles:
            namespace[name] = Oracle(name, signatures[name], answer)
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
    reply = dumps(run(request, namespace, GraderLine(folder), until_cell_ends=True))
    from IPython.display import publish_display_data
    publish_display_data({REPLY_MIME: reply}, metadata={"grade_id": grade_id})
