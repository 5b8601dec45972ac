"""sample:mtod — the CC BY-SA MTOD sample shipped in the package (see xlgraph/data/sample/mtod/ATTRIBUTION.md), read by
  the mtod reader; ``langs=``, ``splits=`` and ``targets=`` work as there.
"""

from __future__ import annotations

from collections.abc import Iterator

from xlgraph.data.corpus import Doc
from xlgraph.data.readers import ReadContext, register
from xlgraph.data.readers.mtod import INTENTS, read_mtod
from xlgraph.data.spec import Spec
from xlgraph.errors import SpecError


@register("sample", labels=INTENTS, params=("langs", "splits", "targets"))
def read_sample(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    from xlgraph.data.sample import SAMPLE_DIR  # the package's data folder

    if spec.path != "mtod":
        raise SpecError(f"corpus spec {str(spec)!r}: unknown sample {spec.path!r}; known: mtod")
    yield from read_mtod(Spec("mtod", str(SAMPLE_DIR), spec.params), ctx)
