"""Spec parameters are checked per scheme: an unknown one is an error naming it and those the scheme accepts, and
malformed values are errors rather than guesses."""

import re
from pathlib import Path

import pytest

from xlgraph.data import readers
from xlgraph.data.readers import READERS, read_docs
from xlgraph.errors import SpecError

readers._load_all()


@pytest.mark.parametrize("scheme", sorted(READERS))
def test_an_unknown_parameter_is_an_error(scheme):
    path = "mtod" if scheme == "sample" else "/nonexistent/x"
    with pytest.raises(SpecError) as info:
        list(read_docs(f"{scheme}:{path}?lnags=en"))
    message = str(info.value)
    assert "unknown parameter 'lnags'" in message
    accepted = sorted(readers.COMMON_PARAMS + readers.PARAMS[scheme])
    assert message.endswith(f"{scheme} accepts {', '.join(accepted)}")


def test_mldoc_names_its_parameters():
    with pytest.raises(SpecError, match=r"unknown parameter 'lnags'; mldoc accepts labels, lang, langs, split, splits, "
                                        r"train_size$"):
        list(read_docs("mldoc:/nonexistent?lnags=en"))


@pytest.mark.parametrize("query, problem", [
    ("text=0&lang=en&header=yes", "header=yes is not 0 or 1"),
    ("text=0&lang=en&labels=pos,,neg", "labels=pos,,neg has an empty item"),
    ("text=0&lang=en&labels=", "labels= is empty"),
    ("text=0&lang=en&labels=pos,neg,pos", "names pos twice"),
    ("text=0&lang=", "lang= is empty"),
    ("text=&lang=en", "text= is empty"),
    ("text=0&label=&lang=en", "label= is empty"),
])
def test_malformed_parameter_values(tmp_path, query, problem):
    path = tmp_path / "t.tsv"
    path.write_text("hello\tpos\n")
    with pytest.raises(SpecError, match=re.escape(problem)):
        list(read_docs(f"tsv:{path}?{query}"))


def test_malformed_reader_parameters(tmp_path):
    with pytest.raises(SpecError, match="summary=yes is not 0 or 1"):
        list(read_docs(f"webis-cls:{tmp_path}?summary=yes"))
    with pytest.raises(SpecError, match="langs=en,,de has an empty item"):
        list(read_docs(f"mldoc:{tmp_path}?langs=en,,de"))
    with pytest.raises(SpecError, match="names en twice"):
        list(read_docs(f"mldoc:{tmp_path}?langs=en,english"))


def test_every_parameter_a_reader_reads_is_declared():
    """Scans each reader module for the spec parameters it reads: each must be declared by one of its schemes."""
    readers._load_all()
    by_module: dict[str, set[str]] = {}
    for scheme, fn in READERS.items():
        by_module.setdefault(fn.__module__, set()).update(readers.COMMON_PARAMS + readers.PARAMS[scheme])
    pattern = re.compile(r"""(?:spec\.get|_param)\((?:spec, )?["'](\w+)["']""")
    for module, declared in by_module.items():
        source = Path(__import__(module, fromlist=["_"]).__file__).read_text()
        read = set(pattern.findall(source))
        if module.endswith(".table"):
            read |= {"text", "label", "id", "lang_col"}  # read in a loop over FIELDS
        assert read <= declared, (module, read - declared)
