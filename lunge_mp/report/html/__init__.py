"""report.html: one self-contained page a person can open offline, mail or archive.

Everything is inside the file: Plotly's JavaScript (its 1.2 MB basic bundle, vendored in
vendor/), the styles, the chart data and the full results document (both as JSON in
`<script type="application/json">` blocks), so it references no URL at all. A Content
Security Policy (`default-src 'none'`) makes the browser refuse any network fetch should a
future change add one.

Tables and text are rendered here, in Python, with every user-supplied string (test,
scenario and request names, error messages, warnings) passed through `html.escape`. Chart
data is JSON with `<`, `>`, `&`, U+2028 and U+2029 written as \\uXXXX escapes, so no value
can close its `<script>` element. Names used as Plotly trace labels are additionally
entity-escaped, because Plotly renders a subset of HTML tags in labels.

Time series come from the per-second buckets; runs longer than MAX_POINTS seconds are
drawn in bins of several seconds (rates averaged, latency percentiles and VUs the worst
second of the bin). Seconds without any report are gaps, not zeros. The latency
distribution is computed from the HDR histograms in `results["histograms"]`.

Modules (the pure data preparation is apart from the markup, so it is tested alone):
- fmt: number formatting, HTML escaping, Plotly labels, script-safe JSON;
- series, distribution, loadgen, data: the chart data (per-second series, HDR percentile
  curves, the load generator's own CPU and memory with its saturated seconds, anomaly spans);
- header, tables, charts: the page's sections; style and script: its CSS and JavaScript;
- clock: remote workers' clocks (drift, applied offset, the uncertainty warning, the offset chart);
- page: assembly, `render_html` and `write_html`.
"""

from lunge_mp.report.html.charts import CHARTS
from lunge_mp.report.html.data import chart_data
from lunge_mp.report.html.fmt import esc, plot_label, script_json
from lunge_mp.report.html.page import render_html, write_html
from lunge_mp.report.html.series import MAX_POINTS

__all__ = ["CHARTS", "MAX_POINTS", "chart_data", "esc", "plot_label", "render_html", "script_json",
           "write_html"]
