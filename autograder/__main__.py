"""python -m autograder VERB ...: the instructor's workflow, one verb per step."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("release", help="regenerate release/ from source/")
    args = parser.parse_args(argv)
    if args.verb == "release":
        from . import release
        return release.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
