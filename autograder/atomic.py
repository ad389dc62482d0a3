"""Files OUT gives to others, written whole: to a new file beside the old one, then renamed over it.

grades.csv, results/<student>.json, the LMS files, collection.csv and report.png are rewritten
while people and programs read them: an instructor's spreadsheet or LMS upload, Gradescope's
harness, `autograder report` run beside a service. Written in place, a reader could find the file
cut short (rows missing), and two writers at once could leave the end of a longer old version
behind a shorter new one. A rename is all or nothing.
"""

import contextlib
import os
import secrets
from pathlib import Path


@contextlib.contextmanager
def replacing(path):
    """Yields a new path beside `path` to write; once written, it replaces `path` (on an
    exception, it is removed and `path` stays as it was). Made with the user's umask, as
    `open(path, "w")` would."""
    path = Path(path)
    new = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    os.close(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666))
    try:
        yield new
        os.replace(new, path)
    except BaseException:
        new.unlink(missing_ok=True)
        raise


def write_text(path, text, encoding="utf-8"):
    """`path.write_text(text)`, whole."""
    with replacing(path) as new:
        new.write_text(text, encoding=encoding)
