"""Every command in the README's code blocks runs as written, in the README's order, each after the ones above it
(so a command that reads what an earlier one wrote finds it there).

The commands run in a scratch project folder laid out like the repository (`experiments/`, with the real data at
`../shared/data`), in this process. What each needs to finish in seconds is in HOW: caps appended to its settings
(the tiny random encoder for the encoder, a few rows, one epoch, the embedded sample where a graph would hold all of
MTOD; a script's own flags for fewer runs), or, for a few, why it is not run here. A README command without an entry, or an entry without a README command, fails the
test: the README cannot drift from what runs.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Caps that make a training run take seconds: the tiny encoder (set at run time), a few rows, one epoch.
TRAIN = ["data.max_train=32", "data.max_eval=16", "tokens.max_length=32", "tokens.buckets=(32,)", "train.epochs=1",
         "train.batch_size=16", "train.eval_batch_size=16", "train.log_every=1", "checkpoint.keep_last=1"]
SELF_LEARNING = ["self_learning.rounds=1", "self_learning.per_class=2"]
CLHG = ["clhg.epochs=1", "clhg.words_per_lang=50", "clhg.hidden=16", "clhg.batch_size=16"]
SAMPLE = ["--data", "sample:mtod"]  # the graph holds every target and unlabeled document: the sample's, not MTOD's
DEEP_CNN = ["deep_cnn.min_label_count=1", "deep_cnn.filters=8", "deep_cnn.embed_dim=16", "data.max_train=64"]
WORDS = ["embeddings.max_words=300", "embeddings.cnn.filters=8", "embeddings.han.units=8",
         "embeddings.max_pairs=64"]
VECTORS = ["--dim", "8", "--epochs", "1", "--bucket", "1000", "--methods", "procrustes"]
TINY = "{tiny}"  # the tiny encoder's folder, filled in at run time

# README command (comments stripped, continuation lines joined) -> how it runs here:
#   ("run", extra arguments)    the command as written plus these (key=value caps go after its own settings)
#   ("skip", why)               not run by this test
HOW: dict[str, tuple[str, object]] = {
    "make demo": ("skip", "the setup itself: creates .venv and runs `xlgraph demo` (the demo line below)"),
    "make test": ("skip", "this test suite"),
    "xlgraph train experiments/finetune/mtod.py": ("run", [f"model.name={TINY}", *TRAIN]),
    "xlgraph train experiments/finetune/mtod.py model.name=/models/xlm-roberta-base train.lr=3e-5":
        ("skip", "needs a local XLM-R checkpoint at /models/xlm-roberta-base (the same path as the line above)"),
    "xlgraph train --data mtod:../shared/data/mtod train.epochs=1": ("run", [f"model.name={TINY}", *TRAIN]),
    "xlgraph train experiments/finetune/mtod.py --workdir runs/x --resume": ("run", [f"model.name={TINY}", *TRAIN]),
    "xlgraph train experiments/finetune/mtod.py --workdir runs/x --overwrite": ("run", [f"model.name={TINY}", *TRAIN]),
    "xlgraph eval runs/finetune-mtod --data mtod:../shared/data/mtod?langs=es --split dev": ("run", []),
    "xlgraph data inspect xlmt:../shared/data/xlmt_umsab_sentiment": ("run", []),
    "xlgraph data to-tfds sample:mtod out/ --name mtod_sample": ("run", []),
    "xlgraph train experiments/self_learning/mtod.py": ("run", [f"model.name={TINY}", *TRAIN, *SELF_LEARNING]),
    "xlgraph train experiments/adversarial/mtod.py": ("run", [f"model.name={TINY}", *TRAIN]),
    "xlgraph train experiments/self_learning/mtod.py adversarial.enabled=true":
        ("run", [f"model.name={TINY}", *TRAIN, *SELF_LEARNING, "--overwrite"]),
    "python experiments/adversarial/table.py demo data.max_train=1000 train.epochs=2 self_learning.rounds=3 "
    "--workdir runs/table-sample --codeswitch es,de":
        ("run", [f"model.name={TINY}", *TRAIN, *SELF_LEARNING, "--variants", "baseline,adversarial"]),
    "xlgraph demo": ("run", [f"model.name={TINY}", *TRAIN, *CLHG]),
    "xlgraph pos train ../shared/data/ud_pos/UD_Spanish-GSD/es_gsd-ud-dev.conllu runs/pos-es --lang es":
        ("run", ["--epochs", "1", "--max-sentences", "200"]),
    "xlgraph train experiments/clhg/mtod.py 'clhg.taggers=[\"es=runs/pos-es\"]'":
        ("run", [f"model.name={TINY}", *TRAIN, *CLHG, *SAMPLE]),
    "xlgraph train experiments/clhg/mtod.py clhg.schedule=noam clhg.lr=1e-4":
        ("run", [f"model.name={TINY}", *TRAIN, *CLHG, *SAMPLE, "--overwrite"]),
    "python experiments/clhg/ablation.py demo --workdir runs/clhg-ablation":
        ("run", [f"model.name={TINY}", *TRAIN, *CLHG]),
    "python experiments/embeddings/vectors.py": ("run", VECTORS),
    "xlgraph align runs/vectors/mono/de.vec runs/vectors/mono/en.vec runs/vectors/de-en.vec "
    "--dict ../shared/data/muse_dicts/splits/de-en.0-5000.txt "
    "--eval ../shared/data/muse_dicts/splits/de-en.5000-6500.txt --method procrustes --refine 2": ("run", []),
    "xlgraph train experiments/embeddings/xlmt_cnn.py": ("run", [*TRAIN, *WORDS]),
    "xlgraph train experiments/embeddings/xlmt_cnn.py 'data.train_langs=[\"en\"]' adversarial.enabled=true":
        ("run", [*TRAIN, *WORDS, "--overwrite"]),
    "xlgraph train experiments/embeddings/xlmt_han.py": ("run", [*TRAIN, *WORDS]),
    "xlgraph eval runs/embeddings-xlmt-cnn --data xlmt:../shared/data/xlmt_umsab_sentiment?langs=de": ("run", []),
    "python experiments/embeddings/table.py --models mlp,cnn,han":
        ("run", ["--models", "mlp", "--langs", "en,de", "--aligned", "procrustes", *TRAIN, *WORDS]),
    "xlgraph train experiments/deep_cnn/mtod.py": ("run", [*TRAIN, *DEEP_CNN]),
    "xlgraph train experiments/deep_cnn/mtod.py deep_cnn.loss=softmax": ("run", [*TRAIN, *DEEP_CNN, "--overwrite"]),
    "python experiments/deep_cnn/compare.py --workdir runs/deep_cnn-compare --seeds 0,1,2":
        ("run", ["--seeds", "0", *TRAIN, *DEEP_CNN]),
    "xlgraph train experiments/finetune/mtod.py train.precision=bf16 train.grad_accum=2 train.checkpoint_every=200":
        ("run", [f"model.name={TINY}", *TRAIN, "--overwrite"]),
    "xlgraph train ... --resume": ("skip", "a pattern (any train command above), not a command"),
    "xlgraph encode sample:mtod feats/ --split unlabeled --run runs/finetune-mtod": ("run", []),
    "xlgraph bench encoder --model xlmr-base --seq-len 128 --precision bf16 --torch":
        ("skip", "downloads-free only with xlmr-base in the HF cache; experiments/bench covers the same code"),
}


def readme_commands() -> list[str]:
    """Each command line of the README's code blocks: `xlgraph SUBCOMMAND ...`, `python experiments/...`, `make`."""
    from xlgraph.cli import parser

    subcommands = set(parser()._subparsers._group_actions[0].choices)
    out = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.split(r"\s+#", line, maxsplit=1)[0]  # a comment: two spaces or more, then #
            words = line.split()
            if len(words) > 1 and ((words[0] == "xlgraph" and words[1] in subcommands) or words[0] == "make"
                                   or (words[0] == "python" and words[1].startswith("experiments/"))):
                out.append(" ".join(words))
    return out


def test_every_readme_command_has_an_entry():
    commands = readme_commands()
    assert len(commands) >= 30
    missing = [c for c in commands if c not in HOW]
    assert not missing, f"README commands this test does not know how to run (add them to HOW): {missing}"
    stale = [c for c in HOW if c not in commands]
    assert not stale, f"HOW entries for commands the README no longer has: {stale}"


def _with_caps(words: list[str], extra: list[str]) -> list[str]:
    """`words` with `extra`: flags at the end; key=value caps after the command's own last setting (argparse
    takes the settings as one run of positionals), else before its first flag."""
    caps = [e for e in extra if "=" in e and not e.startswith("-")]
    flags = [e for e in extra if e not in caps]
    settings = [i for i, w in enumerate(words) if "=" in w and not w.startswith("-") and i > 1]
    at = settings[-1] + 1 if settings else next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    return [*words[:at], *caps, *words[at:], *flags]


def test_readme_commands_run_in_order(tmp_path, monkeypatch, tiny_model_dir, shared_data, experiment_script):
    from xlgraph.cli import main

    shared_data("mtod"), shared_data("xlmt_umsab_sentiment"), shared_data("muse_dicts")  # skip without the data
    (tmp_path / "shared").symlink_to((ROOT / "../shared").resolve())
    project = tmp_path / "project"
    project.mkdir()
    (project / "experiments").symlink_to(ROOT / "experiments")
    monkeypatch.chdir(project)
    ran = []
    for command in readme_commands():
        kind, extra = HOW[command]
        if kind == "skip":
            continue
        words = _with_caps(shlex.split(command), [e.replace(TINY, str(tiny_model_dir)) for e in extra])

        if words[0] == "python":
            script = experiment_script(words[1].removeprefix("experiments/"))
            monkeypatch.setattr(sys, "argv", words[1:])
            try:
                code = script.main() or 0
            except SystemExit as e:
                code = e.code or 0
        else:
            code = main(words[1:])
        assert code == 0, f"README command {command!r} failed (ran as {shlex.join(words)})"
        ran.append(command)
    assert len(ran) >= 25
    assert (project / "runs" / "finetune-mtod" / "results.json").is_file()
    assert (project / "runs" / "vectors" / "de-en.vec").is_file() and (project / "feats").is_dir()
