"""Formatting and escaping for the HTML report: numbers as people read them, text as
HTML, names as Plotly labels, data as JSON that cannot end its <script> element."""

from __future__ import annotations

import datetime as dt
import html
import json
import math


def esc(v: object) -> str:
    """Text as HTML: every user-supplied string goes through here."""
    return html.escape("" if v is None else str(v), quote=True)


def ms(v: float | None) -> str:
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def num(v: float | None) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and v != int(v) and abs(v) < 100:
        return f"{v:,.1f}"
    return f"{v:,.0f}"


def pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v * 100:.{digits}f}%"


def dur(s: float | None) -> str:
    if s is None:
        return "–"
    if s < 120:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else f"{m}m {sec:02d}s"


def when(iso: str | None) -> str:
    if not iso:
        return "–"
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def plot_label(name: str) -> str:
    """A user string as a Plotly label: entities for its pseudo-HTML, no LaTeX trigger."""
    s = html.escape(str(name), quote=False)
    if s.startswith("$"):
        s = "&#36;" + s[1:]
    return s


def _clean(v: object) -> object:
    """JSON-safe: NaN/inf become null (JSON.parse rejects them), tuples become lists."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def script_json(obj: object) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&`, U+2028/9 literally."""
    text = json.dumps(_clean(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))

