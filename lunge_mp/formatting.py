"""Figures and tables as text, for every plain-text output (the console summary, `history`,
`compare`, `profile list`, `validate`, the benchmarks). A leaf: it imports nothing of ours.
The HTML report has its own (report/html/fmt.py: entities, en-dashes, spaced units).

Why not `tabulate`: its "simple" format is this layout, but it pads every header by two
columns (MIN_PADDING, a module global), which would widen every table we print; its import
takes ~35 ms; and our cells must be escaped before their widths are measured anyway. The
layout here is a dozen lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

NONE = "-"      # a figure that is not there


def ms(v: float | None) -> str:
    """Milliseconds: `0.20ms`, `24.88ms`, `123ms`, `1.23s` (a negative one keeps its sign)."""
    if v is None:
        return NONE
    if abs(v) >= 1000:
        return f"{v / 1000:.2f}s"
    if abs(v) >= 100:
        return f"{v:.0f}ms"
    return f"{v:.2f}ms"


def pct(v: float | None) -> str:
    """A fraction as a percentage: 0.0123 -> `1.23%`."""
    return NONE if v is None else f"{v * 100:.2f}%"


def signed_pct(v: float | None) -> str:
    """A change in percent: `+4.2%`, `-0.7%`, `0.0%` (never `-0.0%`); "" when unknown."""
    if v is None:
        return ""
    return "0.0%" if round(v, 1) == 0 else f"{v:+.1f}%"


def rate(v: float | None) -> str:
    """Per second: `1,234.5/s`."""
    return NONE if v is None else f"{v:,.1f}/s"


def count(v: float) -> str:
    """A count or a rate in a table cell: `1,234`, `12.5`, `7`."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}" if v != int(v) else f"{int(v):,}"


def num(v: object, spec: str, none: str = NONE) -> str:
    """`format(v, spec)`, `none` for None, `str(v)` when `spec` does not fit `v`."""
    if v is None:
        return none
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def when(iso: str | None) -> str:
    """`2026-11-23T19:48:36.840+00:00` -> `2026-11-23 19:48` (UTC as recorded)."""
    return NONE if not iso else iso[:16].replace("T", " ")


def table(rows: Sequence[Sequence[str]], left: Iterable[int] = (0,), indent: str = "") -> list[str]:
    """`rows[0]` is the header, underlined with dashes. Columns two spaces apart, padded to
    width: those in `left` flush left (a negative index counts from the end), the others flush
    right. No line ends in spaces. Cells are measured as given: escape them first."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    flush_left = {i % len(widths) for i in left}
    out = []
    for j, row in enumerate(rows):
        cells = [c.ljust(w) if i in flush_left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.append((indent + "  ".join(cells)).rstrip())
        if j == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return out


def md_table(rows: Sequence[Sequence[str]], left: Iterable[int] = (0,)) -> str:
    """The same table in Markdown (GitHub's pipes), columns aligned as in `table`."""
    flush_left = {i % len(rows[0]) for i in left}
    lines = ["| " + " | ".join(rows[0]) + " |",
             "|" + "|".join("---" if i in flush_left else "---:" for i in range(len(rows[0]))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)
