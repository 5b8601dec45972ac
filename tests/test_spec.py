import pytest
from hypothesis import given, strategies as st

from xlgraph.data.readers import load_corpus
from xlgraph.data.spec import parse_spec
from xlgraph.errors import SpecError


def test_parse():
    s = parse_spec("tsv:dir/a b.tsv?text=2&label=0&lang=de&labels=a%2Cb")
    assert (s.scheme, s.path) == ("tsv", "dir/a b.tsv")
    assert s.params == {"text": "2", "label": "0", "lang": "de", "labels": "a,b"}
    assert parse_spec(str(s)) == s
    assert parse_spec("MTOD:x").scheme == "mtod"


@pytest.mark.parametrize("bad", ["nocolon", ":x", "tsv:", "tsv:a?x", "tsv:a?=1", "tsv:a?k=1&k=2"])
def test_bad_specs(bad):
    with pytest.raises(SpecError):
        parse_spec(bad)


@given(st.text(max_size=30))
def test_parse_never_crashes_otherwise(text):
    try:
        parse_spec(text)
    except SpecError:
        pass


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(SpecError, match="known: .*mtod"):
        load_corpus("nope:x")


def test_bad_split_override():
    with pytest.raises(SpecError, match="split"):
        load_corpus("sample:mtod?split=validation")
