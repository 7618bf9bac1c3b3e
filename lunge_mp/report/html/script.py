"""The page's own JavaScript: draws every chart from the `lunge-chart-data` JSON block.

Every chart is drawn inside `safe()`/`draw()`: an exception becomes a message in the
chart's box, on the console and in the page's error banner, never a blank page.
"""

JS = r"""
(function () {
  "use strict";
  var errorsBox = document.getElementById("js-errors");
  function report(msg) {
    errorsBox.className = "banner bad shown";
    var li = document.createElement("div");
    li.textContent = msg;
    errorsBox.appendChild(li);
  }
  window.addEventListener("error", function (ev) { report("Script error: " + ev.message); });
  if (typeof Plotly === "undefined") {
    console.error("Plotly did not load; charts are unavailable.");
    report("Plotly did not load; charts are unavailable.");
    return;
  }
  var D = JSON.parse(document.getElementById("lunge-chart-data").textContent);
  var S = D.series || {};
  var T = D.t || [];
  var CFG = {displaylogo: false, responsive: true,
             modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"]};
  var C = {p50: "#2563eb", p95: "#f59e0b", p99: "#dc2626", target: "#111827", achieved: "#16a34a",
           reqs: "#94a3b8", active: "#7c3aed", vus: "#0ea5e9", tvus: "#111827", dropped: "#f97316"};
  var ERR = {timeout: "#f59e0b", connect: "#dc2626", dns: "#9333ea", tls: "#0891b2", reset: "#e11d48",
             http_4xx: "#ca8a04", http_5xx: "#b91c1c", check: "#2563eb", other: "#6b7280"};
  var EXTRA = ["#14b8a6", "#a855f7", "#84cc16", "#f43f5e", "#0ea5e9", "#eab308"];
  var xTitle = D.bin > 1 ? "seconds since start (" + D.bin + " s bins)" : "seconds since start";

  function niceStep(span) {            // ~4-10 whole-second ticks, aligned to 0
    var raw = Math.max(span, 1) / 8, pow = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * pow >= raw) return Math.max(1, steps[i] * pow); }
    return Math.max(1, 10 * pow);
  }
  function has(k) { return Object.prototype.hasOwnProperty.call(S, k); }
  function sum(k) { return (S[k] || []).reduce(function (a, v) { return a + (v || 0); }, 0); }
  function col(k) { return has(k) ? S[k] : T.map(function () { return null; }); }
  function phaseShapes() {
    return (D.phases || []).map(function (p) {
      return {type: "rect", xref: "x", yref: "paper", x0: p.x0, x1: p.x1, y0: 0, y1: 1,
              fillcolor: p.color, opacity: 0.16, line: {width: 0}, layer: "below"};
    });
  }
  function phaseNotes() {
    return (D.phases || []).map(function (p) {
      return {xref: "x", yref: "paper", x: (p.x0 + p.x1) / 2, y: 1, yanchor: "top", showarrow: false,
              text: p.label, font: {size: 10, color: "#475569"}};
    });
  }
  function anomalyMarks(kinds) {     // shaded spans (a knee: a line) with labels above the plot
    var shapes = [], notes = [], rows = [], span = D.xRange ? D.xRange[1] - D.xRange[0] : 60;
    (D.anomalies || []).forEach(function (a) {
      if (kinds && kinds.indexOf(a.kind) < 0) return;
      if (a.kind === "knee") {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: a.x0, x1: a.x0, y0: 0, y1: 1,
                     line: {color: a.color, width: 2, dash: "dash"}});
      } else {
        shapes.push({type: "rect", xref: "x", yref: "paper", x0: a.x0, x1: a.x1, y0: 0, y1: 1,
                     fillcolor: a.color, opacity: 0.13, line: {width: 1, color: a.color, dash: "dot"},
                     layer: "below"});
      }
      var row = 0;                   // labels that would overlap go one row up
      while (rows[row] !== undefined && a.x0 - rows[row] < span * 0.12) row++;
      rows[row] = a.x0;
      notes.push({xref: "x", yref: "paper", x: a.kind === "knee" ? a.x0 : (a.x0 + a.x1) / 2, y: 1,
                  yanchor: "bottom", yshift: 2 + 14 * row, showarrow: false, text: a.label,
                  hovertext: a.detail, font: {size: 11, color: a.color}});
    });
    return {shapes: shapes, annotations: notes, rows: rows.length};
  }
  function addSaturation(l) {         // saturated load generator seconds: a red strip on the axis
    var spans = (D.loadgen || {}).spans || [];
    spans.forEach(function (s) {
      l.shapes.push({type: "rect", xref: "x", yref: "paper", x0: s.x0, x1: s.x1, y0: 0, y1: 0.04,
                     fillcolor: "#dc2626", opacity: 0.85, line: {width: 0}});
    });
    if (spans.length) {
      l.annotations.push({xref: "x", yref: "paper", x: spans[0].x0, y: 0.04, xanchor: "left", yanchor: "bottom",
                          showarrow: false, text: "load generator saturated",
                          hovertext: "a worker near a full core or with a late event loop: see the load generator chart",
                          font: {size: 10, color: "#b91c1c"}});
    }
  }
  function addMarks(l, m) {            // the same top margin wherever marks are drawn: rows line up
    l.shapes = l.shapes.concat(m.shapes);
    l.annotations = l.annotations.concat(m.annotations);
    if (m.shapes.length) l.margin.t = Math.max(l.margin.t, 22 + 14 * anomalyMarks(null).rows);
  }
  function layout(ytitle, extra) {
    var l = {
      margin: {l: 58, r: 18, t: 30, b: 44}, hovermode: "x unified",
      font: {family: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12, color: "#374151"},
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      legend: {orientation: "h", x: 0, y: -0.3, yanchor: "top"},
      xaxis: {title: {text: xTitle}, gridcolor: "#eef0f4", zeroline: false, tick0: 0},
      yaxis: {title: {text: ytitle}, gridcolor: "#eef0f4", rangemode: "tozero", zeroline: false},
      shapes: phaseShapes(), annotations: phaseNotes()
    };
    if (D.xRange) {
      l.xaxis.range = D.xRange.slice();
      l.xaxis.tickmode = "linear";
      l.xaxis.dtick = niceStep(D.xRange[1] - D.xRange[0]);
    }
    if (extra) { for (var k in extra) { l[k] = extra[k]; } }
    l.margin.b = 100;
    return l;
  }
  function line(name, y, color, opts) {
    var t = {type: "scatter", mode: "lines", name: name, x: T, y: y, connectgaps: false,
             line: {color: color, width: 2}};
    if (opts) { for (var k in opts) { if (k === "line") { for (var j in opts.line) t.line[j] = opts.line[j]; } else t[k] = opts[k]; } }
    dotIsolated(t);
    return t;
  }
  function dotIsolated(t) {          // a value between gaps draws no line: give it a dot
    var y = t.y || [], sizes = [], any = false;
    for (var i = 0; i < y.length; i++) {
      var lone = y[i] !== null && (i === 0 || y[i - 1] === null) && (i === y.length - 1 || y[i + 1] === null);
      sizes.push(lone ? 6 : 0);
      any = any || lone;
    }
    if (any) { t.mode = "lines+markers"; t.marker = {size: sizes, color: t.line.color}; }
  }
  function empty(l, text) {
    l.annotations = (l.annotations || []).concat([{xref: "paper", yref: "paper", x: 0.5, y: 0.5,
      showarrow: false, text: text, font: {size: 14, color: "#9ca3af"}}]);
    return l;
  }
  function fitLegend(traces, l) {     // many entries: a column on the right, not rows over the axis
    var n = traces.filter(function (t) { return t.showlegend !== false; }).length;
    if (n > 8 && l.legend && l.legend.orientation === "h") {
      l.legend = {orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top"};
      l.margin.b = 50;
    }
  }
  function draw(id, traces, l) {
    var el = document.getElementById(id);
    try {
      fitLegend(traces, l);
      Plotly.newPlot(el, traces, l, CFG);
    } catch (e) {
      el.innerHTML = "";
      var p = document.createElement("div");
      p.className = "chart-error";
      p.textContent = "This chart could not be drawn: " + e;
      el.appendChild(p);
      console.error("chart " + id + ": " + e);
      report("chart " + id + ": " + e);
    }
  }
  function safe(name, fn) {
    try { fn(); } catch (e) { console.error(name + ": " + e); report(name + ": " + e); }
  }

  safe("rate", function () {
    var tr = [], l = layout("iterations / s");
    if (D.hasOpen) {
      tr.push(line("target rate (open model)", col("targetRate"), C.target, {line: {dash: "dash"}}));
      tr.push(line("achieved (open-model iterations / s)", col("openIterations"), C.achieved));
      tr.push(line("all requests / s", col("requests"), C.reqs,
                   {visible: "legendonly", line: {width: 1.5, dash: "dot"}}));
    } else {
      tr.push(line("iterations / s", col("iterations"), C.achieved));
      tr.push(line("requests / s", col("requests"), C.reqs, {line: {width: 1.5, dash: "dot"}}));
      l = empty(l, "no open-model scenario: no target rate");
      l.annotations[l.annotations.length - 1].y = 0.92;
    }
    addMarks(l, anomalyMarks(["knee"]));
    draw("chart-rate", tr, l);
  });

  safe("queue", function () {        // a monitored Redis queue: drawn only when the box exists
    if (!D.hasQueue || !document.getElementById("chart-queue")) return;
    var tr = [line("enqueued / s", col("queueEnqueued"), "#2563eb"),
              line("processed / s (consumers)", col("queueProcessing"), "#16a34a"),
              line("queue depth (backlog, right axis)", col("queueDepth"), "#dc2626", {yaxis: "y2", line: {width: 2.5}}),
              line("Redis memory MB (right axis)", col("queueMemoryMB"), "#94a3b8",
                   {yaxis: "y2", visible: "legendonly", line: {width: 1.5, dash: "dot"}})];
    var l = layout("jobs / s");
    l.yaxis2 = {title: {text: "jobs in the queue"}, overlaying: "y", side: "right", rangemode: "tozero",
                showgrid: false, zeroline: false};
    l.margin.r = 64;
    draw("chart-queue", tr, l);
  });

  safe("latency", function () {
    var tr = [];
    [["p50", "p50"], ["p95", "p95"], ["p99", "p99"]].forEach(function (p) {
      tr.push(line("service " + p[1], col(p[0]), C[p[0]]));
    });
    if (has("rtP50") || has("rtP95") || has("rtP99")) {
      [["rtP50", "p50"], ["rtP95", "p95"], ["rtP99", "p99"]].forEach(function (p) {
        tr.push(line("response time " + p[1], col(p[0]), C[p[1]], {line: {dash: "dot", width: 1.6}}));
      });
    }
    var l = layout("ms");
    if (!has("p50")) { l = empty(l, "no latency samples"); }
    addMarks(l, anomalyMarks(null));
    addSaturation(l);
    draw("chart-latency", tr, l);
  });

  safe("errors", function () {
    var tr = [], l = layout("failed requests / s", {barmode: "stack", bargap: 0.15});
    if (D.errorsByClass) {
      (D.errorClasses || []).forEach(function (c, i) {
        tr.push({type: "bar", name: c[1], x: T, y: col("err:" + c[0]),
                 marker: {color: ERR[c[0]] || EXTRA[i % EXTRA.length]}});
      });
    } else if (has("failures")) {
      tr.push({type: "bar", name: "failed requests (classes not recorded per second)", x: T,
               y: col("failures"), marker: {color: "#dc2626"}});
    }
    var total = sum("failures"), generator = sum("generatorErrors");
    if (generator > 0) {             // the load generator's own errors: not the target's failures
      tr.push({type: "bar", name: "load generator errors", x: T, y: col("generatorErrors"),
               marker: {color: "#475569", pattern: {shape: "/", fgcolor: "#ffffff"}}});
    }
    if (!tr.length || total + generator === 0) {
      if (!tr.length) tr.push({type: "bar", name: "failed requests", x: T, y: col("failures"),
                               marker: {color: "#dc2626"}});
      l = empty(l, "no failed requests");
      l.yaxis.range = [0, 1];
    }
    draw("chart-errors", tr, l);
  });

  safe("vus", function () {
    var tr = [line("active VUs (busy)", col("activeVUs"), C.active, {line: {shape: "hv"}}),
              line("allocated VUs", col("vus"), C.vus, {line: {shape: "hv", width: 1.5}})];
    if (has("targetVUs") && S.targetVUs.some(function (v) { return v; })) {
      tr.push(line("target VUs (closed model)", col("targetVUs"), C.tvus, {line: {shape: "hv", dash: "dash"}}));
    }
    draw("chart-vus", tr, layout("VUs"));
  });

  safe("dropped", function () {
    var tr = [{type: "bar", name: "dropped iterations / s", x: T, y: col("dropped"),
               marker: {color: C.dropped}, yaxis: "y"}];
    if (sum("dataExhausted") > 0) {  // part of dropped: a unique data file ran out, not the generator
      tr.push({type: "bar", name: "of which: unique data ran out", x: T, y: col("dataExhausted"),
               marker: {color: "#fdba74", pattern: {shape: "x", fgcolor: "#9a3412"}}, yaxis: "y"});
    }
    var anyLag = has("lagP50") || has("lagP99");
    if (anyLag) {
      [["lagP50", "p50", "p50"], ["lagP95", "p95", "p95"], ["lagP99", "p99", "p99"]].forEach(function (p) {
        tr.push(line("schedule lag " + p[1], col(p[0]), C[p[2]], {yaxis: "y2", line: {width: 1.6}}));
      });
    }
    var l = layout("dropped / s", {barmode: "overlay"});
    l.yaxis2 = {title: {text: "schedule lag (ms)"}, overlaying: "y", side: "right", rangemode: "tozero",
                showgrid: false, zeroline: false, tickmode: "auto", nticks: 6};
    l.yaxis.tickmode = "auto";
    l.margin.r = 64;
    l.margin.t = 30;
    var dropped = (S.dropped || []).reduce(function (a, v) { return a + (v || 0); }, 0);
    if (!anyLag && dropped === 0) { l = empty(l, "no open-model scenario: nothing scheduled, nothing dropped"); }
    else if (dropped === 0) { l.yaxis.range = [0, 1]; }
    draw("chart-dropped", tr, l);
  });

  safe("scenarios", function () {
    var palette = ["#2563eb", "#16a34a", "#9333ea", "#f97316", "#db2777", "#0891b2", "#ca8a04", "#4f46e5"];
    var tr = [];
    (D.scenarios || []).forEach(function (sc, i) {
      var color = palette[i % palette.length];
      tr.push(line(sc[1] + " p95", col("scn:p95:" + sc[0]), color, {legendgroup: "s" + i}));
      tr.push(line(sc[1] + " p99", col("scn:p99:" + sc[0]), color,
                   {legendgroup: "s" + i, showlegend: false, line: {dash: "dot", width: 1.5}}));
    });
    var l = layout("ms");
    if (!tr.length) { l = empty(l, "no per-scenario latency"); }
    draw("chart-scenarios", tr, l);
  });

  safe("loadgen", function () {
    var G = D.loadgen || {}, GS = G.series || {}, X = G.t || [];
    var palette = ["#2563eb", "#16a34a", "#9333ea", "#f97316", "#db2777", "#0891b2", "#ca8a04", "#4f46e5"];
    function g(k) { return Object.prototype.hasOwnProperty.call(GS, k) ? GS[k] : null; }
    function gl(name, k, color, opts) {
      var o = {x: X, hovertemplate: "%{y:.1f}"};
      for (var j in (opts || {})) o[j] = opts[j];
      return line(name, g(k), color, o);
    }
    var tr = [], many = !!G.many;
    if (g("boxCpu")) tr.push(gl("box CPU %", "boxCpu", "#94a3b8",
                                {fill: "tozeroy", fillcolor: "rgba(148,163,184,0.15)", line: {width: 1}}));
    if (g("boxMemory")) tr.push(gl("box memory %", "boxMemory", "#64748b",
                                   {visible: "legendonly", line: {width: 1, dash: "dash"}}));
    if (g("coordinatorCpu")) tr.push(gl("coordinator CPU %", "coordinatorCpu", "#111827", {line: {width: 1.8}}));
    if (many) {
      tr.push(gl("workers: max CPU %", "workersMaxCpu", "#dc2626"));
      tr.push(gl("workers: mean CPU %", "workersMeanCpu", "#2563eb"));
    }
    (G.workers || []).forEach(function (w, i) {
      var k = "w:cpu:" + w[0];
      if (g(k)) tr.push(gl(w[1] + " CPU %", k, palette[i % palette.length],
                           {legendgroup: "w" + i, visible: many ? "legendonly" : true}));
    });
    if (g("coordinatorRss")) tr.push(gl("coordinator RSS MB", "coordinatorRss", "#111827",
                                        {yaxis: "y2", line: {width: 1.3, dash: "dot"}}));
    if (many) tr.push(gl("workers: total RSS MB", "workersTotalRss", "#2563eb",
                         {yaxis: "y2", line: {width: 1.3, dash: "dot"}}));
    (G.workers || []).forEach(function (w, i) {
      var k = "w:rss:" + w[0];
      if (g(k)) tr.push(gl(w[1] + " RSS MB", k, palette[i % palette.length],
                           {yaxis: "y2", legendgroup: "w" + i, visible: many ? "legendonly" : true,
                            line: {width: 1.3, dash: "dot"}}));
    });
    var l = layout("CPU %");
    if (G.xRange) {
      var lo = Math.min(G.xRange[0], D.xRange ? D.xRange[0] : G.xRange[0]);
      var hi = Math.max(G.xRange[1], D.xRange ? D.xRange[1] : G.xRange[1]);
      l.xaxis.range = [lo, hi];
      l.xaxis.tickmode = "linear";
      l.xaxis.dtick = niceStep(hi - lo);
    }
    if (G.bin > 1) l.xaxis.title.text = "seconds since start (" + G.bin + " s bins)";
    l.yaxis2 = {title: {text: "RSS MB"}, overlaying: "y", side: "right", rangemode: "tozero",
                showgrid: false, zeroline: false, tickmode: "auto", nticks: 6};
    l.margin.r = 64;
    var top = 0;
    ["boxCpu", "coordinatorCpu", "workersMaxCpu"].concat((G.workers || []).map(function (w) { return "w:cpu:" + w[0]; }))
      .forEach(function (k) { (g(k) || []).forEach(function (v) { if (v > top) top = v; }); });
    l.yaxis.range = [0, Math.max(105, top * 1.05)];
    if (G.cpuWarn) {
      l.shapes.push({type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: G.cpuWarn, y1: G.cpuWarn,
                     line: {color: "#dc2626", width: 1, dash: "dot"}});
      l.annotations.push({xref: "paper", yref: "y", x: 0, y: G.cpuWarn, xanchor: "left", yanchor: "bottom",
                          showarrow: false, text: "saturation: " + G.cpuWarn + "% CPU",
                          font: {size: 10, color: "#b91c1c"}});
    }
    (G.spans || []).forEach(function (s) {
      l.shapes.push({type: "rect", xref: "x", yref: "paper", x0: s.x0, x1: s.x1, y0: 0, y1: 1,
                     fillcolor: "#dc2626", opacity: 0.12, line: {width: 0}, layer: "below"});
    });
    addSaturation(l);
    if (!tr.length) {
      l = empty(l, "no resource samples in this results file");
      tr.push(line("CPU %", T.map(function () { return null; }), "#111827"));
    }
    draw("chart-loadgen", tr, l);
  });

  safe("clock", function () {        // remote workers' clock offsets: drawn only when the box exists
    var K = D.clock;
    if (!K || !document.getElementById("chart-clock")) return;
    var palette = ["#2563eb", "#16a34a", "#9333ea", "#f97316", "#db2777", "#0891b2", "#ca8a04", "#4f46e5"];
    function rgba(hex, a) {
      var n = parseInt(hex.slice(1), 16);
      return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
    }
    var tr = [], lo = D.xRange ? D.xRange[0] : 0, hi = D.xRange ? D.xRange[1] : 1;
    K.workers.forEach(function (w, i) {
      var color = palette[i % palette.length], vis = w.visible ? true : "legendonly", g = "clock" + i;
      // the band: its upper edge, then its lower edge filled up to it (one legend entry: the line's)
      tr.push({type: "scatter", mode: "lines", x: w.t, y: w.hi, legendgroup: g, showlegend: false, visible: vis,
               hoverinfo: "skip", line: {width: 0, shape: "hv", color: color}});
      tr.push({type: "scatter", mode: "lines", x: w.t, y: w.lo, legendgroup: g, showlegend: false, visible: vis,
               hoverinfo: "skip", fill: "tonexty", fillcolor: rgba(color, 0.18), line: {width: 0, shape: "hv", color: color}});
      tr.push({type: "scatter", mode: "lines+markers", name: w.label, x: w.t, y: w.dy, customdata: w.hover,
               legendgroup: g, visible: vis, line: {width: 2, shape: "hv", color: color},
               marker: {color: color, size: w.t.map(function (_, j) { return j < w.measured ? 6 : 0; })},
               hovertemplate: "%{x:.1f} s: offset %{customdata[0]:+.3f} ms ± %{customdata[1]:.3f}" +
                              "<extra>%{fullData.name}</extra>"});
      lo = Math.min(lo, w.t[0]);
      hi = Math.max(hi, w.t[w.t.length - 1]);
    });
    var l = layout("offset change (ms)", {hovermode: "closest"});
    l.shapes = [];                   // no phase shading: it would hide the bands
    l.annotations = [];
    l.xaxis.title.text = "seconds since start";
    l.xaxis.range = [lo, hi];
    l.xaxis.tickmode = "linear";
    l.xaxis.dtick = niceStep(hi - lo);
    l.yaxis.rangemode = "normal";
    draw("chart-clock", tr, l);
  });

  safe("distribution", function () {
    var curves = D.distribution || [];
    var palette = ["#2563eb", "#0f766e", "#9333ea", "#f97316", "#db2777", "#65a30d", "#0891b2",
                   "#ca8a04", "#4f46e5", "#be123c"];
    var tr = curves.map(function (c, i) {
      var run = c.group === "run";
      return {type: "scatter", mode: "lines", name: c.name, x: c.x, y: c.y, customdata: c.p,
              visible: c.visible === false ? "legendonly" : true,
              line: {width: run ? 2.6 : 1.6, dash: run ? "solid" : "solid",
                     color: palette[i % palette.length]},
              hovertemplate: "p%{customdata}: %{y:.3f} ms<extra>%{fullData.name}</extra>"};
    });
    var ticks = [1, 2, 10, 100, 1000, 10000, 100000];
    var l = {
      margin: {l: 58, r: 18, t: 36, b: 50}, hovermode: "closest",
      font: {family: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12, color: "#374151"},
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      legend: {orientation: "v", x: 1.01, y: 1},
      xaxis: {type: "log", title: {text: "percentile"}, tickvals: ticks,
              ticktext: ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"], gridcolor: "#eef0f4"},
      yaxis: {title: {text: "ms"}, rangemode: "tozero", gridcolor: "#eef0f4"},
      updatemenus: [{type: "buttons", direction: "right", x: 0, y: 1.12, xanchor: "left", yanchor: "top",
                     showactive: true, pad: {r: 4, t: 0},
                     buttons: [{label: "linear ms", method: "relayout", args: [{"yaxis.type": "linear"}]},
                               {label: "log ms", method: "relayout", args: [{"yaxis.type": "log"}]}]}]
    };
    if (!tr.length) { l = empty(l, "no latency histograms in the results"); }
    draw("chart-dist", tr, l);
  });
})();
"""

