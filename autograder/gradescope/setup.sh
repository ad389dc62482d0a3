#!/usr/bin/env bash
# Gradescope runs this once, as root, on its Ubuntu image: everything grading needs, installed
# before any submission arrives (grading itself has no network). AUTOGRADER_ROOT and
# AUTOGRADER_VENV move it elsewhere (the tests run it in a temporary folder).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="${AUTOGRADER_VENV:-$ROOT/venv}"
SOURCE="$ROOT/source"

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "$@" || { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; }
}

# The sandbox every student kernel runs in (autograder/sandbox.py): bubblewrap, and setpriv
# (util-linux) to drop to the sandbox's own user when run as root.
command -v bwrap >/dev/null || apt_install bubblewrap
command -v setpriv >/dev/null || apt_install util-linux

# Python 3.11 or newer (the pins' floor): Ubuntu 24.04's python3 is; 22.04's (3.10) is not.
PYTHON=""
for candidate in ${PYTHON_FOR_GRADING:-} python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON="$candidate"; break
    fi
done
if [ -z "$PYTHON" ]; then
    apt_install python3.11 python3.11-venv
    PYTHON=python3.11
fi
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    apt_install "$(basename "$PYTHON")-venv" || apt_install python3-venv
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$SOURCE/requirements.txt"
"$VENV/bin/python" -c 'import nbgrader, numpy, autograder.course' 2>/dev/null || \
    PYTHONPATH="$SOURCE" "$VENV/bin/python" -c 'import nbgrader, numpy, autograder.course'
# The assignment registered once, as each run registers it: the image keeps it in the cache.
PYTHONPATH="$SOURCE" "$VENV/bin/python" -m autograder.gradescope.run --prepare
echo "autograder ready: $VENV"
