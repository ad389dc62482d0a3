"""`python -m autograder release`: regenerate release/ from source/.

1. Refresh source/<assignment>/visible_expected.json from the reference solutions.
2. Run nbgrader's generate_assignment (solutions replaced by stubs, hidden tests
   removed, outputs cleared, checksums recorded) with a throwaway gradebook.
3. Copy the figures beside the notebooks: nbgrader does not follow the `images`
   symlink of the source folder.
"""

import shutil
import tempfile
from pathlib import Path

from . import reference
from .course import ASSIGNMENT, ROOT, generate_assignment


class ReleaseError(RuntimeError):
    pass


def generate(root=ROOT, db_url=None):
    """Build root/release/<assignment>/ from root/source/<assignment>/, return its path."""
    root = Path(root)
    source = root / "source" / ASSIGNMENT
    if not source.is_dir():
        raise ReleaseError(f"no source folder {source}: nothing to release.")
    reference.write_visible_expected(source / "visible_expected.json")
    with tempfile.TemporaryDirectory() as tmp:
        result = generate_assignment(root, db_url or f"sqlite:///{tmp}/release_gradebook.db")
    if not result["success"]:
        raise ReleaseError("nbgrader generate_assignment failed:\n" + result.get("error", "") + result.get("log", ""))
    release = root / "release" / ASSIGNMENT
    shutil.copytree(source / "images", release / "images", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return release


def main(args):
    print(f"released {generate().relative_to(ROOT)}/")
    return 0
