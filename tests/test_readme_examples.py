"""The README's Python examples (Architecture: the seams) parse, and the self-contained ones run as written."""

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_every_python_example_parses():
    blocks = _python_blocks()
    assert len(blocks) >= 6  # one per seam
    for block in blocks:
        ast.parse(block)


def test_the_reader_example_reads_and_reports_bad_lines(tmp_path):
    from xlgraph.data.readers import READERS, load_corpus
    from xlgraph.errors import DataError

    block = next(b for b in _python_blocks() if "@register" in b)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme_example"})
    try:
        path = tmp_path / "data.txt"
        path.write_text("pos\tgood film\nneg\tbad film\n")
        corpus, _ = load_corpus(f"labelled:{path}?lang=de")
        assert corpus.text.tolist() == ["good film", "bad film"] and set(corpus.lang) == {"de"}
        path.write_text("pos\tgood film\nno tab here\n")
        with pytest.raises(DataError, match=r"data.txt:2: expected label<TAB>text"):
            load_corpus(f"labelled:{path}")
    finally:
        READERS.pop("labelled", None)


def test_the_family_and_grad_fn_examples_define_what_they_say():
    from xlgraph.families.encoder import EncoderFamily

    namespace = {"__name__": "readme_example"}
    for block in _python_blocks():
        if "class LayerwiseLR" in block or "def two_dropout_passes" in block:
            exec(compile(block, "README.md", "exec"), namespace)
    assert issubclass(namespace["LayerwiseLR"], EncoderFamily)
    assert callable(namespace["two_dropout_passes"](lambda *a, **k: None))
