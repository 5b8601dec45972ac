"""Data shipped inside the package: a CC BY-SA 4.0 sample of MTOD (see mtod/ATTRIBUTION.md), so that `xlgraph demo`
and the tests run without downloads. Rebuilt by experiments/data/make_mtod_sample.py."""

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent / "mtod"
SAMPLE_SPEC = f"mtod:{SAMPLE_DIR}"  # the same files as the spec `sample:mtod`

__all__ = ["SAMPLE_DIR", "SAMPLE_SPEC"]
