"""Per-language result tables (text) and bar charts (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def format_table(per_language: dict[str, dict], *, source_lang: str | None = None, title: str = "",
                 columns=("n", "accuracy", "macro_f1")) -> str:
    header = ["lang", *columns]
    rows = []
    for lang, m in per_language.items():
        tag = f"{lang} (source)" if lang == source_lang else lang
        rows.append([tag] + [f"{m[c]:d}" if c == "n" else f"{100 * m[c]:.2f}" for c in columns])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    out = [title] if title else []
    out += [line(header), line(["-" * w for w in widths]), *map(line, rows)]
    return "\n".join(out)


def side_by_side(methods: dict[str, dict[str, dict]], *, source_lang: str | None = None, title: str = "") -> str:
    """One row per language, accuracy and macro-F1 (%) of each method in adjacent columns:
    `methods[name][lang]` holds "n", "accuracy" and "macro_f1". Languages a method lacks show "-"."""
    langs = list(dict.fromkeys(lang for per in methods.values() for lang in per))
    header = ["lang", "n"] + [f"{name} {m}" for name in methods for m in ("acc", "F1")]
    rows = []
    for lang in langs:
        n = next(per[lang]["n"] for per in methods.values() if lang in per)
        row = [f"{lang} (source)" if lang == source_lang else lang, f"{n:d}"]
        for per in methods.values():
            row += [f"{100 * per[lang][m]:.2f}" if lang in per else "-" for m in ("accuracy", "macro_f1")]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    out = [title] if title else []
    out += [line(header), line(["-" * w for w in widths]), *map(line, rows)]
    return "\n".join(out)


def score_table(rows: dict[str, dict[str, dict | list[dict]]], columns: Sequence[str], *,
                header: dict[str, str] | None = None, extra: dict[str, str] | None = None,
                metrics: Sequence[str] = ("accuracy", "macro_f1")) -> str:
    """Methods (or variants) by row, languages by column, each cell the `metrics` in % ("acc / F1"):
    `rows[name][column]` is one metrics dict, or a list of them (one per seed: "mean±sd", the sample sd, 0 for one).
    Missing cells show "—"; `header` renames columns; `extra[name]` is appended to its row (e.g. the wall time)."""
    import numpy as np

    def cell(value) -> str:
        if value is None:
            return "—"
        if isinstance(value, dict):
            return " / ".join(f"{100 * value[m]:.1f}" for m in metrics)
        out = []
        for m in metrics:
            x = 100 * np.asarray([v[m] for v in value], np.float64)
            out.append(f"{x.mean():.1f}±{x.std(ddof=1) if len(x) > 1 else 0.0:.1f}")
        return " / ".join(out)

    header = header or {}
    table = [["", *(header.get(c, c) for c in columns)]]
    table += [[name, *(cell(per.get(c)) for c in columns)] for name, per in rows.items()]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in table]
    if extra:
        lines = [line + (f"  {extra[name]}" if name in extra else "") for line, name in zip(lines, ["", *rows])]
    return "\n".join(lines)


def bar_chart(per_language: dict[str, dict], path: str | Path, *, title: str = "",
              metrics=("accuracy", "macro_f1")) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    langs = list(per_language)
    x = np.arange(len(langs))
    width = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(langs)), 3.5))
    for i, m in enumerate(metrics):
        values = [100 * per_language[lang][m] for lang in langs]
        bars = ax.bar(x + (i - (len(metrics) - 1) / 2) * width, values, width, label=m)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(x, langs)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
