"""The autograder of the RNN series: release, collect, grade, report (see README.md)."""

import importlib
import sys
import types

# jsonschema (through nbformat, on every import of nbgrader) validates the "iri" string format
# with rfc3987_syntax when it is installed, and importing it builds a Lark grammar: 1.0 s of
# every run's start-up and every worker's, for a format no schema here uses (nbformat's,
# nbgrader's, results.schema.json). Marked as absent, jsonschema leaves that format unchecked.
sys.modules.setdefault("rfc3987_syntax", None)


class _ImportedOnFirstCall(types.ModuleType):
    """Stands in for module `name` until one of `functions` is called (then the module is
    imported and the call goes to it) or another of its names is asked for."""

    def __init__(self, name, functions):
        super().__init__(name)
        for function in functions:
            setattr(self, function, self._forward(function))

    def _real(self):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return importlib.import_module(self.__name__)

    def _forward(self, function):
        def call(*args, **kwargs):
            return getattr(self._real(), function)(*args, **kwargs)
        call.__name__ = function
        return call

    def __getattr__(self, name):
        if name.startswith("__"):  # the import system's questions (`__path__`: a package?) are not a use
            raise AttributeError(name)
        return getattr(self._real(), name)


# nbgrader.utils imports three functions of setuptools.archive_util, for nbgrader's zip_collect: the
# import of setuptools (and of pkg_resources, through it) was 0.2 s of every run's start-up, which
# grading never uses. They are imported when first called.
if "setuptools.archive_util" not in sys.modules:
    sys.modules["setuptools.archive_util"] = _ImportedOnFirstCall(
        "setuptools.archive_util", ("unpack_archive", "unpack_tarfile", "unpack_zipfile"))
