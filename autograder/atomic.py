"""Files OUT gives to others, written whole: to a new file beside the old one, then renamed over it.

grades.csv, results/<student>.json, the LMS files, collection.csv and report.png are rewritten
while people and programs read them: an instructor's spreadsheet or LMS upload, Gradescope's
harness, `autograder report` run beside a service. Written in place, a reader could find the file
cut short (rows missing), and two writers at once could leave the end of a longer old version
behind a shorter new one. A rename is all or nothing. Each student's state in OUT/.state is
written the same way, the instructor's alone, so that a killed run leaves the old state or the new.
"""

import contextlib
import os
import secrets
from pathlib import Path


@contextlib.contextmanager
def replacing(path, mode=0o666):
    """Yields a new path beside `path` to write; once written, it replaces `path` (on an
    exception, it is removed and `path` stays as it was). Made with `mode` and the user's umask,
    as `open(path, "w")` would (0o600: the instructor's alone)."""
    path = Path(path)
    new = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    os.close(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode))
    try:
        yield new
        os.replace(new, path)
    except BaseException:
        new.unlink(missing_ok=True)
        raise


def write_text(path, text, encoding="utf-8", mode=0o666):
    """`path.write_text(text)`, whole."""
    with replacing(path, mode) as new:
        new.write_text(text, encoding=encoding)
