"""The reader registry: every module of the package is discovered, and a scheme cannot be registered twice."""

import pytest

from xlgraph.data import readers
from xlgraph.data.readers import READERS, register


def test_every_reader_module_is_discovered():
    readers._load_all()
    assert set(READERS) == {"conllu", "csv", "jsonl", "mldoc", "mtod", "opener", "sample", "tfds", "tsv",
                            "webis-cls", "xglue-nc", "xlmt"}
    assert READERS["xlmt"].__module__ == "xlgraph.data.readers.xlmt"


def test_a_second_reader_for_a_scheme_is_an_error():
    readers._load_all()
    original = READERS["mtod"]

    def read_mtod(spec, ctx):  # another function of the same name, in another module
        yield from ()

    with pytest.raises(ValueError, match=r"'mtod' is registered twice: by xlgraph\.data\.readers\.mtod\.read_mtod"):
        register("mtod")(read_mtod)
    assert READERS["mtod"] is original
    assert register("mtod")(original) is original  # the same reader again (a module imported twice) is fine
