"""The report's stylesheet (inlined: the page loads nothing)."""

CSS = """
:root{--bg:#f5f7fb;--fg:#1f2937;--muted:#6b7280;--card:#fff;--line:#e5e7eb;--ok:#15803d;--okbg:#dcfce7;
--bad:#b91c1c;--badbg:#fee2e2;--warn:#b45309;--warnbg:#fef3c7;--accent:#2563eb}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1360px;margin:0 auto;padding:24px 28px 48px}
code{font:12.5px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef2f7;padding:1px 5px;border-radius:4px;word-break:break-all}
h1{font-size:26px;margin:2px 0 14px;word-break:break-word}
h2{font-size:18px;margin:34px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:0 0 8px;color:#374151}
h3.sub{margin:18px 0 8px}
.muted{color:var(--muted)}
.top{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--accent);font-weight:600}
.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px 22px}
.meta-k{font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.meta-v{font-weight:500;word-break:break-word}
.tool{margin-top:12px;font-size:12px}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-weight:700;font-size:12px;letter-spacing:.04em}
.badge.ok{background:var(--okbg);color:var(--ok)}.badge.bad{background:var(--badbg);color:var(--bad)}
.badge.warn{background:var(--warnbg);color:var(--warn)}
.banner{margin-top:14px;padding:10px 14px;border-radius:8px}
.banner.warn{background:var(--warnbg);color:#78350f}.banner.bad{background:var(--badbg);color:#7f1d1d}
.verdict{margin-top:14px;padding:12px 18px;border-radius:12px;border:1px solid var(--line);background:var(--card)}
.verdict.bad{background:var(--badbg);border-color:#fca5a5;color:#7f1d1d}
.verdict.warn{background:var(--warnbg);border-color:#fcd34d;color:#78350f}
.verdict.ok{background:var(--okbg);border-color:#86efac;color:#14532d}
.verdict-head{font-size:16px;font-weight:600}
.verdict ul{margin:8px 0 0;padding-left:22px}.verdict li{margin:3px 0;word-break:break-word}
.verdict a{color:inherit}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:14px;margin-top:18px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.card-k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.card-v{font-size:28px;font-weight:650;margin:4px 0 2px;font-variant-numeric:tabular-nums}
.card-v small{font-size:15px;font-weight:500;color:var(--muted)}
.card-s{font-size:12.5px;color:var(--muted)}
.card.bad .card-v{color:var(--bad)}.card.ok .card-v{color:var(--ok)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.chart-card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 14px 6px;min-width:0}
.chart-card.wide{grid-column:1/-1}
.chart{height:330px;width:100%}
.chart-card.wide .chart{height:400px}
.chart-error{color:var(--bad);padding:20px}
#clock-chart{margin-top:14px}
.phases{margin:0 0 10px;font-size:13px;color:var(--muted)}
.phase{margin-left:12px;white-space:nowrap}.phase i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;vertical-align:-1px;opacity:.6}
.table-wrap{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
th{white-space:normal;vertical-align:bottom}
th{font-size:11px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);background:#f9fafb;font-weight:600}
td.num,th.num{text-align:right}
tbody tr:last-child td{border-bottom:0}
tbody tr:nth-child(even) td{background:#fbfcfe}
td .msg{white-space:normal;word-break:break-word;display:inline-block;max-width:640px}
td:first-child{white-space:normal;word-break:break-word;min-width:110px;max-width:300px}
ul.warnings{background:var(--warnbg);color:#78350f;border-radius:10px;padding:10px 14px 10px 32px;margin:0}
ul.warnings li{margin:3px 0;word-break:break-word}
footer{margin-top:36px;font-size:12px;color:var(--muted)}
.chart-note{margin:4px 2px 8px;padding:8px 12px;border-radius:8px;font-size:13px}
.chart-note.warn{background:var(--warnbg);color:#78350f}
.chart-note ul{margin:4px 0 0;padding-left:20px}
td .note{font-size:12px;margin-top:2px;white-space:normal}
.checks.ok{color:var(--ok)}.checks.bad{color:var(--bad);font-weight:600}
.kind{display:inline-block;border:1px solid;border-radius:999px;padding:0 8px;font-size:12px;font-weight:600;white-space:nowrap}
#js-errors{display:none}
#js-errors.shown{display:block;margin-top:14px}
@media print{.charts{display:block}.chart-card{break-inside:avoid;margin-bottom:12px}}
"""
