"""TensorFlow Datasets (TFDS) as a corpus source and target, without TensorFlow.

Reading: ``tfds:NAME/SPLIT?data_dir=DIR``. NAME is a TFDS name as `tfds.builder` takes it: ``name``,
``name/config``, ``name:1.0.0``, ``name/config:1.*.*``. SPLIT is a TFDS split expression (``train``,
``train[:50%]``, ``train[10:20]+test``) or ``*`` for every split of the dataset. Each ``+`` part keeps its own
split: TFDS ``train`` -> train, ``validation``/``valid``/``val``/``dev`` -> dev, ``test`` -> test,
``unlabeled``/``unlabelled``/``unsupervised`` -> unlabeled; any other name needs ``split=``. Without
``data_dir`` TFDS's default data dir is searched (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).

The dataset must already be prepared there, in a random-access file format (``array_record``, or
``parquet``): it is read through ``builder.as_data_source(split)``, which needs no TensorFlow. Nothing is
ever downloaded or prepared; a missing dataset is a DataError that says so.

Parameters (besides the ``lang=``, ``split=``, ``labels=`` every spec takes):

* ``text=FEATURE`` (default ``text``): a Text (or bytes/str) feature.
* ``label=FEATURE`` (default ``label``; empty: no labels): a ClassLabel gives its names (-1: unlabelled,
  the TFDS convention), a Text gives its value ("" unlabelled), an integer gives its decimal string
  (negative: unlabelled). Without ``label=`` a dataset with no ``label`` feature reads as unlabelled. A
  ClassLabel also fixes the corpus label set, in its order (unless ``labels=`` is given).
* ``lang_feature=FEATURE`` (default ``lang`` when the dataset has it); otherwise ``lang=CODE`` is required.
* ``id=FEATURE`` (default ``id`` when present; empty: none) and ``translation=FEATURE`` (default
  ``translation_of`` when present; empty: none), the id of the document this one translates. A link to a
  document outside what the spec reads makes the corpus invalid: read the splits together (``NAME/*``,
  ``NAME/train+test``) or drop the links with ``translation=``.

Bad records (empty text or language, undecodable bytes, a NUL or lone surrogate in the text) go to ``ctx.bad``
with the pseudo line number set to the record's 0-based index in its split expression
(``builder.as_data_source(part)[index]`` is the record) and the path ``BUILDER_DIR[PART]``.

Writing: `write_tfds` stores any Corpus as a TFDS dataset in ``array_record`` format; see its docstring.
tensorflow_datasets is imported only when a tfds spec is read or written, so the other readers never pay
for it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from xlgraph.data.corpus import SPLITS, Corpus, Doc
from xlgraph.data.readers import register
from xlgraph.data.readers.io import ReadContext
from xlgraph.data.spec import Spec
from xlgraph.errors import DataError, SpecError, XlgraphError

# TFDS split name -> ours. `validation` is what TFDS datasets call it; write_tfds writes that.
SPLIT_NAMES = {
    "train": "train",
    "validation": "dev", "valid": "dev", "val": "dev", "dev": "dev",
    "test": "test",
    "unlabeled": "unlabeled", "unlabelled": "unlabeled", "unsupervised": "unlabeled",
}
TFDS_SPLIT = {"train": "train", "dev": "validation", "test": "test", "unlabeled": "unlabeled"}  # ours -> TFDS
_CHUNK = 512  # records fetched per batched random-access read
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_AGAIN = "the dataset is damaged: prepare it again (or restore the file)"


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise XlgraphError(
            f"the tfds: scheme needs tensorflow-datasets, array_record and importlib_resources ({e}); "
            "install them with pip (TensorFlow is not needed)"
        ) from None
    return tfds


# ---------------------------------------------------------------------------------------------- reading


def _parse_path(spec: Spec) -> tuple[str, str]:
    name, sep, split = spec.path.rpartition("/")
    if not sep or not name or not split:
        raise SpecError(f"corpus spec {str(spec)!r}: expected tfds:NAME/SPLIT, e.g. tfds:my_corpus/train?data_dir=DIR "
                        "(SPLIT may be a TFDS split expression such as train[:50%] or train+test, or * for all)")
    return name, split


def _open_builder(spec: Spec):
    """The read-only builder for the spec's dataset, found in its files only (never the registered code, never
    a download)."""
    tfds = _tfds()
    from tensorflow_datasets.core import read_only_builder, registered
    from tensorflow_datasets.core.utils import file_utils

    name, _ = _parse_path(spec)
    data_dir = spec.get("data_dir")
    if data_dir is not None:
        data_dir = os.path.abspath(os.path.expanduser(data_dir))
        if not os.path.isdir(data_dir):
            raise DataError(data_dir, None, "no such directory (data_dir= of a tfds: spec)")
    where = data_dir or "TFDS's default data dir (" + ", ".join(
        str(d) for d in file_utils.list_data_dirs()) + ")"
    try:
        return read_only_builder.builder_from_files(name, data_dir=data_dir)
    except registered.DatasetNotFoundError:
        hint = ""
        if data_dir and os.path.exists(os.path.join(data_dir, "dataset_info.json")):
            hint = (" (data_dir is itself a dataset's directory, DATA_DIR/NAME/VERSION: give DATA_DIR, "
                    "the folder two levels up)")
        raise DataError(
            data_dir or name, None,
            f"TFDS dataset {name!r} is not prepared in {where}{hint}; xlgraph never downloads or prepares TFDS "
            "datasets: prepare it first in array_record format (e.g. `tfds build NAME --data_dir DIR "
            "--file_format array_record`, or `xlgraph data to-tfds SPEC DIR`)"
        ) from None
    except Exception as e:  # a damaged dataset must name its file, not end in a traceback
        damaged = _damaged_info(name, data_dir, e)
        if damaged is not None:
            raise damaged from None
        if isinstance(e, ValueError):  # e.g. the dataset is in several registered data dirs
            raise DataError(data_dir or name, None, " ".join(str(e).split())) from None
        raise


def _damaged_info(name: str, data_dir: str | None, error: Exception) -> DataError | None:
    """The DataError for a dataset directory whose dataset_info.json or features.json is missing, empty or not
    JSON (what `error`, raised while opening it, came from); None when these files look whole."""
    from tensorflow_datasets.core import read_only_builder

    try:  # (private, but only on this error path: it finds the directory builder_from_files was opening)
        builder_dir = read_only_builder._find_builder_dir(name, data_dir=data_dir)
    except Exception:  # noqa: BLE001
        builder_dir = None
    if builder_dir is None:
        return None
    for file in ("dataset_info.json", "features.json"):
        path = Path(os.fspath(builder_dir)) / file
        if not path.is_file():
            return DataError(path, None, f"missing; {_AGAIN}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            return DataError(path, None, f"cannot be read ({e}); {_AGAIN}")
        if not text.strip():
            return DataError(path, None, f"empty ({path.stat().st_size} bytes); {_AGAIN}")
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            return DataError(path, e.lineno, f"not valid JSON ({e.msg}, column {e.colno}): truncated or "
                                             f"corrupt; {_AGAIN}")
    if type(error).__name__ == "ParseError":  # protobuf: JSON, but not a DatasetInfo
        return DataError(Path(os.fspath(builder_dir)) / "dataset_info.json", None,
                         f"not a TFDS DatasetInfo ({' '.join(str(error).split())}); {_AGAIN}")
    return None


def _check_shards(builder, part: str) -> list[tuple[str, int]]:
    """(shard file, records read from it) for split expression `part`, in reading order; a shard file that is
    missing or empty is a DataError naming it."""
    instructions = builder.info.splits[part].file_instructions
    for i, fi in enumerate(instructions):
        path = Path(os.fspath(fi.filename))
        of = f"shard {i + 1} of {len(instructions)} of split {part!r}"
        if not path.is_file():
            raise DataError(path, None, f"missing ({of}, {fi.examples_in_shard} records); {_AGAIN}")
        if path.stat().st_size == 0:
            raise DataError(path, None, f"empty (0 bytes; {of}, {fi.examples_in_shard} records); {_AGAIN}")
    return [(os.fspath(fi.filename), fi.take) for fi in instructions]


def _short(error: Exception, limit: int = 240) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + " …"


def _shard_of(shards: list[tuple[str, int]], index: int) -> str:
    """The shard file that record `index` of a split expression comes from."""
    for filename, count in shards:
        if index < count:
            return filename
        index -= count
    return shards[-1][0] if shards else "?"


def _split_parts(spec: Spec, builder) -> list[tuple[str, str]]:
    """(TFDS split expression part, our split) for each `+` part of the spec's SPLIT."""
    _, expr = _parse_path(spec)
    available = list(builder.info.splits)
    parts = available if expr == "*" else [p.strip() for p in expr.split("+")]
    override = spec.get("split")
    out = []
    for part in parts:
        base = part.split("[", 1)[0].strip()
        if base not in available:
            raise SpecError(f"corpus spec {str(spec)!r}: dataset {builder.info.full_name} has no split {base!r}; "
                            f"it has {', '.join(available) or 'none'}")
        ours = override or SPLIT_NAMES.get(base.lower())
        if ours is None:
            raise SpecError(f"corpus spec {str(spec)!r}: TFDS split {base!r} has no xlgraph equivalent; "
                            f"add split=one of {', '.join(SPLITS)}")
        out.append((part, ours))
    return out


def _feature_param(spec: Spec, key: str, default: str, features, required: bool = False) -> str | None:
    """The feature named by `key=` (must exist), else `default` when the dataset has it, else None."""
    given = spec.get(key)
    if given is not None:
        if given == "":
            return None
        if given not in features:
            raise SpecError(f"corpus spec {str(spec)!r}: {key}={given}: no such feature; "
                            f"the dataset has {', '.join(features) or 'none'}")
        return given
    if default in features:
        return default
    if required:
        raise SpecError(f"corpus spec {str(spec)!r}: the dataset has no {default!r} feature; "
                        f"name one with {key}=FEATURE (it has {', '.join(features)})")
    return None


def _class_label(feature):
    from tensorflow_datasets.core.features import ClassLabel

    return feature if isinstance(feature, ClassLabel) and feature.num_classes is not None else None


def _fixed_labels(spec: Spec) -> tuple[str, ...] | None:
    """A ClassLabel label feature fixes the label set, in its order. None when it cannot be told (the reader
    then reports why, if anything is wrong)."""
    try:
        features = _open_builder(spec).info.features
        name = _feature_param(spec, "label", "label", features)
    except XlgraphError:
        return None
    feature = _class_label(features[name]) if name is not None else None
    return tuple(feature.names) if feature is not None else None


def _as_str(value, what: str) -> str:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")  # UnicodeDecodeError: the caller reports the record
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    raise SpecError(f"feature {what!r} holds {type(value).__name__} values; expected text")


@register("tfds", labels=_fixed_labels, params=("data_dir", "text", "label", "id", "translation", "lang_feature"))
def read_tfds(spec: Spec, ctx: ReadContext) -> Iterator[Doc]:
    builder = _open_builder(spec)
    features = builder.info.features
    parts = _split_parts(spec, builder)
    text_f = _feature_param(spec, "text", "text", features, required=True)
    label_f = _feature_param(spec, "label", "label", features)
    id_f = _feature_param(spec, "id", "id", features)
    trans_f = _feature_param(spec, "translation", "translation_of", features)
    lang = spec.get("lang")
    lang_f = None
    if not lang:
        lang_f = _feature_param(spec, "lang_feature", "lang", features)
        if lang_f is None:
            raise SpecError(f"corpus spec {str(spec)!r}: the dataset has no 'lang' feature; "
                            "give lang=CODE or lang_feature=FEATURE")
    class_label = _class_label(features[label_f]) if label_f is not None else None
    names = list(class_label.names) if class_label is not None else None

    def label_of(value) -> str | None:
        if class_label is not None:
            y = int(value)
            return None if y < 0 else names[y]
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return None if value < 0 else str(int(value))
        return _as_str(value, label_f) or None

    for part, split in parts:
        shards = _check_shards(builder, part)
        try:
            source = builder.as_data_source(part)
        except NotImplementedError:
            raise DataError(builder.data_dir, None,
                            f"stored as {builder.info.file_format.value if builder.info.file_format else 'unknown'}; "
                            "reading without TensorFlow needs a random-access format: prepare it again with "
                            "file_format=array_record") from None
        except (ValueError, AssertionError) as e:
            raise SpecError(f"corpus spec {str(spec)!r}: split {part!r}: {' '.join(str(e).split())}") from None
        except RuntimeError as e:  # array_record cannot open a shard
            raise DataError(shards[0][0] if len(shards) == 1 else builder.data_dir, None,
                            f"split {part!r}: cannot be opened ({_short(e)}); {_AGAIN}") from None
        where = f"{builder.data_dir}[{part}]"
        n = len(source)
        for start in range(0, n, _CHUNK):
            keys = list(range(start, min(start + _CHUNK, n)))
            try:
                records = source.__getitems__(keys)
            except Exception as e:  # noqa: BLE001 -- a damaged shard: name it, not a traceback from array_record
                raise DataError(_shard_of(shards, start), None,
                                f"records {start}..{keys[-1]} of split {part!r} cannot be read "
                                f"({type(e).__name__}: {_short(e)}); {_AGAIN}") from None
            for index, rec in enumerate(records, start):
                if rec[text_f] is None:  # an empty record: array_record returns b"" past a truncation
                    raise DataError(_shard_of(shards, index), None,
                                    f"record {index} of split {part!r} is empty: the file is truncated or "
                                    f"corrupt; {_AGAIN}")
                try:
                    text = _as_str(rec[text_f], text_f)
                    doc_lang = lang or _as_str(rec[lang_f], lang_f)
                    label = label_of(rec[label_f]) if label_f is not None else None
                    doc_id = _as_str(rec[id_f], id_f) if id_f is not None else ""
                    trans = _as_str(rec[trans_f], trans_f) if trans_f is not None else ""
                except UnicodeDecodeError as e:
                    ctx.bad(where, index, f"record {index}: undecodable bytes (not UTF-8) at byte {e.start}")
                    continue
                if not text.strip():
                    ctx.bad(where, index, f"record {index}: empty text (feature {text_f!r})")
                    continue
                if not doc_lang:
                    ctx.bad(where, index, f"record {index}: empty language (feature {lang_f!r})")
                    continue
                if not ctx.check_text(where, index, text, f"the text of record {index}"):  # NUL, lone surrogate
                    continue
                if label is not None and not ctx.check_label(where, index, label):
                    continue
                yield Doc(text=text, lang=doc_lang, label=label, split=split, id=doc_id or None,
                          translation_of=trans or None)


# ---------------------------------------------------------------------------------------------- writing


def _builder_class():
    tfds = _tfds()

    class CorpusBuilder(tfds.dataset_builders.AdhocBuilder, skip_registration=True):
        """AdhocBuilder fed from plain iterables. AdhocBuilder's own `_split_generators` asks whether each split
        is a `tf.data.Dataset`, which imports TensorFlow; this one only takes iterables of (key, example)."""

        def _split_generators(self, dl_manager):
            del dl_manager
            return {split: iter(examples) for split, examples in self._split_datasets.items()}

    return CorpusBuilder


def _examples(corpus: Corpus, index: np.ndarray):
    """(key, example) in corpus order; integer keys keep that order (the dataset is written unshuffled)."""
    ids = corpus.doc_id.tolist()
    for key, i in enumerate(index.tolist()):
        t = int(corpus.translation[i])
        yield key, {
            "text": str(corpus.text[i]),
            "lang": str(corpus.lang[i]),
            "label": int(corpus.label[i]),
            "id": ids[i],
            "translation_of": ids[t] if t >= 0 else "",
        }


def write_tfds(corpus: Corpus, out_dir: str | os.PathLike, name: str = "xlgraph_corpus", version: str = "1.0.0",
               *, overwrite: bool = False) -> Path:
    """Stores `corpus` as the TFDS dataset NAME:VERSION under `out_dir` (a TFDS data_dir), in ``array_record``
    format, and returns its directory ``out_dir/NAME/VERSION``. Read it back with
    ``tfds:NAME/SPLIT?data_dir=OUT_DIR`` or ``tfds.builder_from_directory(path).as_data_source(split)``.

    One TFDS split per corpus split present: train, validation (our dev), test, unlabeled; documents keep
    their corpus order (the dataset is written with shuffling disabled). Features:

    * ``text``, ``lang``: Text.
    * ``label``: ClassLabel with the corpus label names in order (also in ``label.labels.txt``); -1 means
      unlabelled, as TFDS datasets mark it (e.g. imdb_reviews' unsupervised split).
    * ``id``: Text, "" when the document has none.
    * ``translation_of``: Text, the id of the document this one translates, "" when none (or when that
      document has no id, since links are stored by id).

    Written with TFDS's own generator-based pipeline (an `AdhocBuilder` fed from iterables and
    `download_and_prepare(file_format="array_record")`), which serializes to tf.Example protos in pure Python:
    TensorFlow is neither needed nor imported. Nothing is downloaded; TFDS's console output is silenced.
    An existing dataset at that place is an error unless `overwrite`.
    """
    tfds = _tfds()
    if not _NAME.fullmatch(name or ""):
        raise XlgraphError(f"TFDS dataset name {name!r}: use snake_case (a-z, 0-9, _), starting with a letter")
    try:
        version = str(tfds.core.Version(version))
    except (ValueError, TypeError):
        raise XlgraphError(f"TFDS dataset version {version!r}: expected MAJOR.MINOR.PATCH, e.g. 1.0.0") from None
    if len(corpus) == 0:
        raise XlgraphError("cannot write an empty corpus as a TFDS dataset")
    for label in corpus.labels:
        # ClassLabel keeps its names one per line, stripped, in label.labels.txt.
        if not label or label != label.strip() or "\n" in label or "\r" in label:
            raise XlgraphError(f"label name {label!r} cannot be stored in a TFDS ClassLabel "
                               "(names must be non-empty, without line breaks or surrounding spaces)")
    out_dir = Path(out_dir).expanduser().absolute()
    target = out_dir / name / version
    if target.exists():
        if not overwrite:
            raise XlgraphError(f"{target} already exists; remove it or write with overwrite")
        shutil.rmtree(target)
    out_dir.mkdir(parents=True, exist_ok=True)

    features = tfds.features.FeaturesDict({
        "text": tfds.features.Text(),
        "lang": tfds.features.Text(),
        "label": tfds.features.ClassLabel(names=list(corpus.labels)),
        "id": tfds.features.Text(),
        "translation_of": tfds.features.Text(),
    })
    splits = {
        TFDS_SPLIT[split]: _examples(corpus, np.flatnonzero(corpus.split == SPLITS.index(split)))
        for split in SPLITS if np.any(corpus.split == SPLITS.index(split))
    }
    langs = ", ".join(corpus.langs)
    builder = _builder_class()(
        name=name, version=version, features=features, split_datasets=splits, data_dir=str(out_dir),
        description=f"xlgraph corpus: {len(corpus)} documents in {langs}; labels: {', '.join(corpus.labels) or 'none'}. "
                    "label -1 = unlabelled; id/translation_of '' = none.",
        file_format="array_record", disable_shuffling=True,
    )
    config = tfds.download.DownloadConfig(compute_stats=tfds.download.ComputeStatsMode.SKIP)
    with tempfile.TemporaryDirectory(prefix="xlgraph-tfds-") as scratch, \
            contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        # download_dir: TFDS would otherwise leave an empty `downloads/` folder in out_dir.
        builder.download_and_prepare(download_dir=scratch, download_config=config, file_format="array_record")
    return Path(builder.data_dir)
