// lunge-mp live dashboard: charts fed by the test's WebSocket, buttons that call the API.
// Every text from the server is set with textContent (never parsed as HTML).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { token: sessionStorage.getItem("lunge-token") || "", test: null, ws: null,
                  classes: {}, points: 0, updateMs: [], redrew: [], chartMs: [], messages: 0, status: "idle", paused: [] };
  window.lungeDash = state;              // for tests and the curious: points drawn, update times

  const layout = (title, y) => ({ title: { text: title, font: { size: 13 } }, margin: { l: 50, r: 10, t: 30, b: 30 },
    xaxis: { title: { text: "s" } }, yaxis: { title: { text: y }, rangemode: "tozero" },
    legend: { orientation: "h", y: -0.2 }, showlegend: true });
  const line = (name, extra) => Object.assign({ x: [], y: [], name, mode: "lines", type: "scatter" }, extra || {});
  const CHARTS = {
    "chart-rate": [layout("Target vs actual rate", "it/s"), [line("target", { line: { dash: "dash" } }), line("actual")]],
    "chart-latency": [layout("Latency", "ms"), [line("p50"), line("p95"), line("p99")]],
    "chart-failures": [layout("Failures by class", "/s"), []],
    "chart-vus": [layout("VUs", "VUs"), [line("VUs")]],
    "chart-drops": [layout("Drops and schedule lag", "dropped /s"),
                    [line("dropped"), line("lag p95 (ms)", { yaxis: "y2" })]],
    "chart-cpu": [layout("Load generator CPU", "% of the box"), [line("CPU")]],
  };
  CHARTS["chart-drops"][0].yaxis2 = { overlaying: "y", side: "right", rangemode: "tozero", title: { text: "ms" } };
  CHARTS["chart-drops"][0].margin.r = 50;  // room for the right axis' ticks and title
  // no failure class yet: say so on axes like the other charts' (not Plotly's empty -1..6)
  const NO_FAILURES = [{ text: "no failures", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
                         font: { color: "#888" } }];
  Object.assign(CHARTS["chart-failures"][0], { annotations: NO_FAILURES,
    xaxis: { title: { text: "s" }, range: [0, 60], autorange: false }, yaxis: { title: { text: "/s" }, range: [0, 1], autorange: false } });
  const opts = { displayModeBar: false, responsive: true };

  function resetCharts() {
    state.classes = {}; state.points = 0; state.paused = []; state.planned = 0; state.failuresSpan = 0;
    state.messageWait = [];
    for (const id of Object.keys(ranges)) delete ranges[id];
    hidden.clear();
    for (const [id, [lay, traces]] of Object.entries(CHARTS)) {
      Plotly.react(id, traces.map((t) => Object.assign({}, t, { x: [], y: [] })), JSON.parse(JSON.stringify(lay)), opts);
    }
  }

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (state.token) h.Authorization = "Bearer " + state.token;
    return h;
  }

  async function api(method, path, body, type) {
    const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": type || "application/json" }) };
    if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
    const r = await fetch(path, init);
    if (r.status === 401) { $("token-box").hidden = false; throw new Error("a token is needed"); }
    const data = (r.headers.get("Content-Type") || "").includes("json") ? await r.json() : {};
    if (!r.ok) throw new Error((data.error || r.statusText) + (data.problems ? ": " + data.problems.join("; ") : ""));
    return data;
  }

  function say(text) { $("message").textContent = text; }

  function setStatus(status, text) {
    state.status = status;
    $("status").dataset.status = status;
    $("status").textContent = text || status;
    const live = status === "running" || status === "paused";
    $("stop").disabled = !live;
    $("pause").disabled = status !== "running";
    $("resume").disabled = status !== "paused";
    $("scale").disabled = !live;
  }

  // Drawing a point. Plotly redraws a whole chart (axes, ticks, legend, title: text measured
  // in the DOM) on extendTraces; on a loaded box that is 30-50 ms a chart, 5 charts a
  // message. So each chart keeps axis ranges of its own with room to grow, and a point that
  // fits them only moves the traces (Plotly.animate without redraw: no axes, no legend);
  // one that does not (a new maximum, the end of the x range, the first points) redraws the
  // chart once with new ranges. The time from a message's receipt to its charts being drawn
  // is kept in updateMs (all its charts) and chartMs (each chart).
  const ranges = {};                       // chart id → {x: [lo, hi], y: top, y2: top}
  // "immediate": a frame not drawn yet gives way to the next, which holds all its points
  const ANIMATE = { transition: { duration: 0 }, frame: { duration: 0, redraw: false }, mode: "immediate" };

  function top(values, current) {
    let max = current || 0;
    for (const v of values) if (typeof v === "number" && v > max) max = v;
    return max;
  }

  function nice(v) {                       // 1, 2, 5 × 10^k at or above v × 1.2
    if (!(v > 0)) return 1;
    const step = Math.pow(10, Math.floor(Math.log10(v * 1.2)));
    for (const f of [1, 2, 5, 10]) if (f * step >= v * 1.2) return f * step;
    return 10 * step;
  }

  function draw(id, xs, ys, idx, since) {
    const gd = $(id);
    const r = ranges[id];
    const axes = idx.map((i) => (gd.data[i].yaxis === "y2" ? "y2" : "y"));
    const newTop = { y: 0, y2: 0 };
    ys.forEach((v, k) => { newTop[axes[k]] = top(v, newTop[axes[k]]); });
    const lastX = Math.max(...xs.map((v) => v[v.length - 1]));
    const fits = r && lastX <= r.x[1] && newTop.y <= r.y && newTop.y2 <= r.y2 && gd.data.length === r.traces &&
      idx.every((i) => gd.data[i].type !== "bar");      // bars are redrawn (failures: rare)
    let done;
    if (document.hidden) {                 // a background tab draws nothing (animation frames
      append(gd, xs, ys, idx);             // wait there): the points are kept, drawn on return
      hidden.add(id);
      return;
    } else if (fits) {
      const data = idx.map((i, k) => ({ x: gd.data[i].x.concat(xs[k]), y: gd.data[i].y.concat(ys[k]) }));
      done = Plotly.animate(gd, { data, traces: idx }, ANIMATE);
    } else {
      append(gd, xs, ys, idx);
      done = redraw(id);
      if (since !== undefined && state.messageWait.length) state.messageWait[state.messageWait.length - 1][2] = true;
    }
    // an animation cut short by the next one is drawn by it (which also clears its wait)
    if (since !== undefined) Promise.resolve(done).then(() => drawn(id, since), () => {});
  }

  function append(gd, xs, ys, idx) {
    idx.forEach((i, k) => { gd.data[i].x = gd.data[i].x.concat(xs[k]); gd.data[i].y = gd.data[i].y.concat(ys[k]); });
  }

  function redraw(id) {                    // the whole chart, with ranges that leave room to grow
    const gd = $(id);
    const all = gd.data.map((d) => d.x).flat();
    const lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
    const maxes = { y: 0, y2: 0 };
    for (const d of gd.data) { const ax = d.yaxis === "y2" ? "y2" : "y"; maxes[ax] = top(d.y, maxes[ax]); }
    const planned = state.planned || 0;    // the run's planned length: the x axis it will fill
    const xHi = hi < planned ? planned : hi + Math.max(planned ? 10 : 60, Math.ceil((hi - lo) * 0.5));
    ranges[id] = { x: [lo, xHi], y: nice(maxes.y), y2: nice(maxes.y2), traces: gd.data.length };
    const lay = gd.layout;
    lay.xaxis = Object.assign({}, lay.xaxis, { range: ranges[id].x, autorange: false });
    lay.yaxis = Object.assign({}, lay.yaxis, { range: [0, ranges[id].y], autorange: false });
    if (lay.yaxis2) lay.yaxis2 = Object.assign({}, lay.yaxis2, { range: [0, ranges[id].y2], autorange: false });
    lay.datarevision = (lay.datarevision || 0) + 1;
    return Plotly.react(gd, gd.data, lay, opts);
  }

  const hidden = new Set();                // charts with points not drawn while the tab was hidden
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) return;
    for (const id of hidden) redraw(id);
    hidden.clear();
  });

  function drawn(id, since) {
    const now = performance.now();
    state.chartMs.push(now - since);
    if (state.chartMs.length > 1000) state.chartMs.shift();
    const waiting = state.messageWait;
    for (const [, ids] of waiting) ids.delete(id);
    while (waiting.length && waiting[0][1].size === 0) {
      const [t0, , redrew] = waiting.shift();
      state.updateMs.push(now - t0);
      state.redrew.push(!!redrew);        // a chart of it redrawn (new ranges), not only moved
      if (state.updateMs.length > 300) { state.updateMs.shift(); state.redrew.shift(); }
    }
  }
  state.messageWait = [];                  // [receipt time, chart ids not drawn yet, redrawn?], oldest first

  function onSecond(kind, m, since) {
    const ids = [];
    const add = (id, xs, ys, idx) => { ids.push(id); draws.push([id, xs, ys, idx]); };
    const draws = [];
    if (kind === "rate_update") {
      add("chart-rate", [[m.t], [m.t]], [[m.target], [m.actual]], [0, 1]);
      state.points += 1;
      if (m.paused) markPaused([m.t]);
      if (state.status === "running" || state.status === "paused") setStatus(m.paused ? "paused" : "running");
    } else {
      if (m.totals && m.totals.planned) state.planned = m.totals.planned;
      add("chart-latency", [[m.t], [m.t], [m.t]], [[m.p50], [m.p95], [m.p99]], [0, 1, 2]);
      add("chart-vus", [[m.t]], [[m.vus]], [0]);
      add("chart-drops", [[m.t], [m.t]], [[m.dropped], [m.lagP95]], [0, 1]);
      add("chart-cpu", [[m.t]], [[m.cpu]], [0]);
      const errors = m.errors || {};
      for (const cls of Object.keys(errors)) {
        if (!(cls in state.classes)) {
          state.classes[cls] = Object.keys(state.classes).length;
          if (state.classes[cls] === 0) $("chart-failures").layout.annotations = [];   // the first failure
          Plotly.addTraces("chart-failures", line(cls, { type: "bar" }));
        }
      }
      const idx = Object.values(state.classes);
      if (!idx.length && state.planned && state.failuresSpan !== state.planned) {
        state.failuresSpan = state.planned;           // the empty chart spans the run, as the others do
        Plotly.relayout("chart-failures", { "xaxis.range": [0, state.planned] });
      }
      if (idx.length) {
        const names = Object.keys(state.classes);
        add("chart-failures", names.map(() => [m.t]), names.map((c) => [errors[c] || 0]), idx);
      }
    }
    state.messageWait.push([since, new Set(ids)]);
    for (const [id, xs, ys, idx] of draws) draw(id, xs, ys, idx, since);
  }

  function onHistory(h) {
    resetCharts();
    const s = h.series, t = s.t;
    if (t.length) {
      const extend = (id, xs, ys, idx) => draw(id, xs, ys, idx);
      extend("chart-rate", [t, t], [s.target, s.actual], [0, 1]);
      extend("chart-latency", [t, t, t], [s.p50, s.p95, s.p99], [0, 1, 2]);
      extend("chart-vus", [t], [s.vus], [0]);
      extend("chart-drops", [t, t], [s.dropped, s.lagP95], [0, 1]);
      extend("chart-cpu", [t], [s.cpu], [0]);
      state.points = t.length;
      markPaused(t.filter((_, i) => s.paused[i]));
    }
    $("violations").replaceChildren();
    for (const text of h.violations) addViolation(text);
  }

  // paused seconds: shaded on the rate chart
  function markPaused(seconds) {
    if (!seconds.length) return;
    state.paused.push(...seconds);
    const shapes = state.paused.map((t) => ({ type: "rect", xref: "x", yref: "paper", x0: t, x1: t + 1, y0: 0, y1: 1,
      fillcolor: "#f59e0b", opacity: 0.2, line: { width: 0 } }));
    Plotly.relayout("chart-rate", { shapes });
  }

  function addViolation(text, kind) {
    const li = document.createElement("li");
    li.textContent = text;
    if (kind) li.className = kind;
    $("violations").prepend(li);
  }

  function connect(test) {
    if (state.ws) state.ws.close();
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
      "/api/v1/load-test/stream/" + encodeURIComponent(test.id);
    const ws = state.token ? new WebSocket(url, ["lunge-mp", "bearer." + state.token]) : new WebSocket(url);
    state.ws = ws;
    ws.onmessage = (ev) => {
      if (ws !== state.ws) return;
      const since = performance.now();
      const m = JSON.parse(ev.data);
      state.messages += 1;
      if (m.type === "history") onHistory(m);
      else if (m.type === "rate_update" || m.type === "metrics_update") onSecond(m.type, m, since);
      else if (m.type === "violation") m.messages.forEach(addViolation);
      else if (m.type === "event") addViolation(m.event + " at " + m.t + "s" + (m.scenario ? " (" + m.scenario + ")" : ""), "event");
      else if (m.type === "completion") {
        setStatus(m.status, "completed: " + m.status + " (exit " + m.exitCode + ")");
        say("results: " + m.results + "  report: " + m.report);
        refreshTests();
      }
    };
  }

  function select(test) {
    state.test = test;
    $("test-name").textContent = test.name + " · " + test.id;
    setStatus(test.status);
    const sel = $("scale-scenario");
    sel.replaceChildren();
    for (const s of test.scenarios || []) {
      const o = document.createElement("option");
      o.value = s.name; o.textContent = s.name + (s.open ? " (open)" : " (closed)");
      sel.append(o);
    }
    $("scale-what").value = (test.scenarios || [])[0] && test.scenarios[0].open ? "rate" : "vus";
    resetCharts();
    connect(test);
    renderTests();
  }

  let tests = [];
  function renderTests() {
    const ul = $("tests");
    ul.replaceChildren();
    for (const t of tests) {
      const li = document.createElement("li");
      li.textContent = `${t.name} · ${t.status}` + (t.created ? ` · ${t.created}` : "");
      if (state.test && t.id === state.test.id) li.className = "current";
      if (t.links && t.links.stream) li.onclick = () => select(t);
      else li.onclick = () => window.open(`/api/v1/tests/${encodeURIComponent(t.id)}/report`, "_blank");
      ul.append(li);
    }
  }

  async function refreshTests() {
    try {
      const data = await api("GET", "/api/v1/tests");
      tests = data.tests;
      if (data.profiles && !state.profilesLoaded) { state.profilesLoaded = true; loadProfiles(); }
      const live = data.running[0];
      if (live && (!state.test || (state.test.id !== live.id && !(state.status in { running: 1, paused: 1 })))) select(live);
      else if (!state.test && tests.length && tests[0].links && tests[0].links.stream) select(tests[0]);
      renderTests();
    } catch (e) { say(e.message); }
  }

  async function loadProfiles() {
    try {
      const data = await api("GET", "/api/v1/load-test/profiles");
      for (const p of data.profiles || data) {
        const o = document.createElement("option");
        o.value = p.id || p.name; o.textContent = "profile: " + (p.name || p.id);
        $("profile").append(o);
      }
    } catch (e) { /* no profile store on this server */ }
  }

  async function steer(action, body) {
    if (!state.test) return;
    try {
      const t = await api("POST", `/api/v1/tests/${encodeURIComponent(state.test.id)}/${action}`, body);
      setStatus(t.status);
      say(action + ": ok");
    } catch (e) { say(action + ": " + e.message); }
  }

  $("stop").onclick = () => steer("stop");
  $("pause").onclick = () => steer("pause");
  $("resume").onclick = () => steer("resume");
  $("scale-form").onsubmit = (ev) => {
    ev.preventDefault();
    steer("scale", { scenario: $("scale-scenario").value, [$("scale-what").value]: Number($("scale-value").value) });
  };
  $("start-form").onsubmit = async (ev) => {
    ev.preventDefault();
    try {
      const profile = $("profile").value;
      const text = $("config").value.trim();
      const t = profile
        ? await api("POST", `/api/v1/load-test/profiles/${encodeURIComponent(profile)}/run`, {})
        : await api("POST", "/api/v1/tests", text, text.startsWith("{") ? "application/json" : "application/yaml");
      say("started " + t.id);
      select(t);
      refreshTests();
    } catch (e) { say("start: " + e.message); }
  };
  $("token-save").onclick = () => {
    state.token = $("token").value.trim();
    sessionStorage.setItem("lunge-token", state.token);
    $("token-box").hidden = true;
    refreshTests();
  };

  resetCharts();
  refreshTests();
  setInterval(refreshTests, 3000);
})();
