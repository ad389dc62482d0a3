"""The autograder of the RNN series: release, collect, grade, report (see README.md)."""

import sys

# jsonschema (through nbformat, on every import of nbgrader) validates the "iri" string format
# with rfc3987_syntax when it is installed, and importing it builds a Lark grammar: 1.0 s of
# every run's start-up and every worker's, for a format no schema here uses (nbformat's,
# nbgrader's, results.schema.json). Marked as absent, jsonschema leaves that format unchecked.
sys.modules.setdefault("rfc3987_syntax", None)
