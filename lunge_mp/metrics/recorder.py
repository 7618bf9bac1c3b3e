"""Worker-side metrics: record on the hot path, ship one interval's deltas per `drain()`.

Hot-path cost is a `list.append` per latency sample plus a few integer adds; the
HDR work (bucket indexing, ~1 µs per value with `record_value`) happens in batches:
`drain()` (once a second) or `fold()` when the buffered samples of all series exceed
`buffer_cap`. Between folds a series' samples are a `hdr.Tally` (sparse counts), so
memory is bounded by series × distinct buckets + `buffer_cap` values, never by requests.

Series are keyed (scenario, request, metric); request "" holds scenario-level metrics.
At most `max_series` series exist; samples for new keys beyond that go to request
`__overflow__` of their scenario (always allowed) and `overflowed` counts those calls.
A request name occupies two series (duration and response time), a scenario two
(iteration duration and schedule lag). With `breakdown` (the fast transport measures it) a
request name has two more: http_req_blocked and http_req_connecting. Those cost nothing for
a request that did not wait: only non-zero values are recorded (`blocked`), and at each drain
the requests of the interval without one are added as zeros, so their percentiles are over
every timed request, as k6's are.
With `detailed` (settings.timings: detailed) a request name has four more: tls_handshaking
(recorded like connecting; not with `tls` False: aiohttp's handshake is inside connecting) and
sending / waiting / receiving (`phases`, one call a response).
They are off by default: three more values a request cost ~10-20% of the fast transport's hot
path (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from lunge_mp.metrics import hdr
from lunge_mp.metrics.names import (DETAILED_METRICS, HTTP_REQ_BLOCKED, HTTP_REQ_CONNECTING, HTTP_REQ_DURATION,
                                    HTTP_REQ_RESPONSE_TIME, ITERATION_DURATION, OVERFLOW, SCHEDULE_LAG,
                                    UNKNOWN_FAILURE)
from lunge_mp.protocol.messages import CounterDelta, ScenarioDelta, SeriesDelta

SeriesKey = tuple[str, str, str]

DEFAULT_MAX_SERIES = 1000
DEFAULT_BUFFER_CAP = 8192          # ~1 ms per fold: no long stall of the event loop (docs/PERFORMANCE.md)


class _Series:
    """One series' samples of the current interval: raw buffer + already-folded tally.

    The buffer is a list, not an array('q'): `list.append` costs ~11 ns here against ~70
    ns for `array.append`, and the global `buffer_cap` bounds its size (≤ ~36 B a value).
    """

    __slots__ = ("buf", "append", "tally")

    def __init__(self) -> None:
        self.buf: list[int] = []
        self.append = self.buf.append   # bound once; the buffer is cleared in place
        self.tally = hdr.Tally()

    def fold(self) -> None:
        if self.buf:
            self.tally.add_values(self.buf)
            del self.buf[:]


class _Req:
    """Counters of one (scenario, request) for the current interval, and its two series."""

    __slots__ = ("dur", "rt", "requests", "failures", "errors", "first_error",
                 "bytes_in", "bytes_out", "checks_passed", "checks_failed", "check_runs", "check_fails",
                 "check_first", "blk", "con", "n_blk", "n_con", "untimed", "queued",
                 "tls", "n_tls", "snd", "wai", "rcv")

    def __init__(self, dur: _Series, rt: _Series, blk: _Series | None = None,
                 con: _Series | None = None, tls: _Series | None = None,
                 snd: _Series | None = None, wai: _Series | None = None,
                 rcv: _Series | None = None) -> None:
        self.dur = dur.append
        self.rt = rt.append
        self.blk = blk                  # breakdown series (None without breakdown)
        self.con = con
        self.n_blk = self.n_con = 0     # non-zero samples in them this interval
        self.tls = tls                  # detailed series (None without settings.timings: detailed)
        self.n_tls = 0
        self.snd = snd.append if snd is not None else None
        self.wai = wai.append if wai is not None else None
        self.rcv = rcv.append if rcv is not None else None
        self.untimed = 0                # requests counted without a latency (not_sent)
        self.queued = 0                 # requests that waited at the connection limit
        self.requests = 0
        self.failures = 0
        self.errors: dict[str, int] = {}
        self.first_error: dict[str, str] = {}
        self.bytes_in = 0
        self.bytes_out = 0
        self.checks_passed = 0
        self.checks_failed = 0
        self.check_runs = 0                     # times this request's checks ran (each runs every time)
        self.check_fails: dict[int, int] = {}   # check index → fails
        self.check_first: dict[int, str] = {}   # check index → its first failure message

    def fail(self, error_class: str | None, error_msg: str | None) -> None:
        self.failures += 1
        cls = error_class or UNKNOWN_FAILURE
        errors = self.errors
        errors[cls] = errors.get(cls, 0) + 1
        if cls not in self.first_error:
            self.first_error[cls] = error_msg or ""

    def fill_zeros(self) -> None:
        """The interval's timed requests without a blocked / connecting value count as 0."""
        timed = self.requests - self.untimed
        if self.blk is not None:
            self.blk.tally.add_zeros(timed - self.n_blk)
            self.con.tally.add_zeros(timed - self.n_con)
        if self.tls is not None:
            self.tls.tally.add_zeros(timed - self.n_tls)
        self.n_blk = self.n_con = self.n_tls = self.untimed = 0

    def delta(self, scenario: str, request: str) -> CounterDelta | None:
        if not (self.requests or self.failures or self.bytes_in or self.bytes_out or self.errors
                or self.check_runs):
            return None
        d = CounterDelta(scenario, request, self.requests, self.failures, self.errors,
                         self.bytes_in, self.bytes_out, self.first_error,
                         self.checks_passed, self.checks_failed, self.check_runs, self.check_fails,
                         self.check_first, self.queued)
        self.queued = 0
        self.requests = self.failures = self.bytes_in = self.bytes_out = 0
        self.checks_passed = self.checks_failed = self.check_runs = 0
        self.check_fails = {}
        self.check_first = {}
        self.errors = {}
        self.first_error = {}
        return d


class _Scn:
    """Iteration counters of one scenario for the current interval, plus persistent gauges."""

    __slots__ = ("dur", "lag", "iterations", "dropped", "interrupted", "scheduled",
                 "active_vus", "vus", "sent_gauges")

    def __init__(self, dur: _Series, lag: _Series) -> None:
        self.dur = dur.append
        self.lag = lag.append
        self.iterations = 0
        self.dropped: dict[str, int] = {}
        self.interrupted = 0
        self.scheduled = 0
        self.active_vus = 0
        self.vus = 0
        self.sent_gauges = (0, 0)

    def delta(self, scenario: str) -> ScenarioDelta | None:
        gauges = (self.active_vus, self.vus)
        # Gauges persist: resend while non-zero (each 1-s bucket needs them) and once
        # more when they return to zero, so the coordinator sees the drop.
        if not (self.iterations or self.dropped or self.interrupted or self.scheduled
                or gauges != (0, 0) or gauges != self.sent_gauges):
            return None
        d = ScenarioDelta(scenario, self.iterations, self.dropped, self.interrupted,
                          self.active_vus, self.vus, self.scheduled)
        self.iterations = self.interrupted = self.scheduled = 0
        self.dropped = {}
        self.sent_gauges = gauges
        return d


class Recorder:
    """Per-worker metric accumulator for one reporting interval. Not thread-safe (one loop).

    Values are integer microseconds (floats raise TypeError on append: convert once at
    the timing site). Out-of-range values are clamped to [0, 1 h] when folded.
    """

    def __init__(self, max_series: int = DEFAULT_MAX_SERIES,
                 buffer_cap: int = DEFAULT_BUFFER_CAP, breakdown: bool = False,
                 detailed: bool = False) -> None:
        self.max_series = max_series
        self.buffer_cap = buffer_cap
        # the transport measures blocked / connecting (set before the first request)
        self.breakdown = breakdown
        # settings.timings: detailed (implies breakdown)
        self.detailed = detailed
        # with detailed, the transport times TLS handshakes apart (fast; aiohttp's are inside
        # connecting, so its requests have no http_req_tls_handshaking series)
        self.tls = True
        self.overflowed = 0           # calls whose samples went to an __overflow__ series
        self._series: dict[SeriesKey, _Series] = {}
        self._reqs: dict[str, dict[str, _Req]] = {}   # scenario → request → slot (nested:
        # two str-keyed lookups are cheaper than building and hashing a tuple key)
        self._scns: dict[str, _Scn] = {}
        self._pending = 0             # buffered (unfolded) samples over all series

    # ---- hot path -------------------------------------------------------------------

    def request_done(self, scenario: str, request: str, duration_us: int,
                     response_time_us: int | None, failed: bool, error_class: str | None,
                     error_msg: str | None, bytes_in: int, bytes_out: int) -> None:
        """One finished request (response or error): duration, response time, counters."""
        try:
            r = self._reqs[scenario][request]
        except KeyError:
            r = self._req(scenario, request)
        r.dur(duration_us)
        r.requests += 1
        r.bytes_in += bytes_in
        r.bytes_out += bytes_out
        n = self._pending + 1
        if response_time_us is not None:
            r.rt(response_time_us)
            n += 1
        if failed:
            r.fail(error_class, error_msg)
        self._pending = n
        if n >= self.buffer_cap:
            self.fold()

    def not_sent(self, scenario: str, request: str, error_class: str, error_msg: str) -> None:
        """A request that could not even be built (e.g. a template error): a failed request
        of its class, counted in http_reqs and http_req_failed like a DNS error (which never
        reaches the server either), but without a latency sample, since nothing was timed."""
        try:
            r = self._reqs[scenario][request]
        except KeyError:
            r = self._req(scenario, request)
        r.requests += 1
        r.untimed += 1
        r.fail(error_class, error_msg)

    def blocked(self, scenario: str, request: str, blocked_us: int, connecting_us: int,
                queued: bool, tls_us: int = 0) -> None:
        """A request that waited before going out (called only then, before `request_done`):
        its wait for a connection or slot plus opening one, the opening alone, and whether it
        queued at the connection limit."""
        try:
            r = self._reqs[scenario][request]
        except KeyError:
            r = self._req(scenario, request)
        if queued:
            r.queued += 1
        if r.blk is None:
            return
        r.blk.append(blocked_us)
        r.n_blk += 1
        n = self._pending + 1
        if connecting_us:
            r.con.append(connecting_us)
            r.n_con += 1
            n += 1
            if tls_us and r.tls is not None:
                r.tls.append(tls_us)
                r.n_tls += 1
                n += 1
        self._pending = n
        if n >= self.buffer_cap:
            self.fold()

    def phases(self, scenario: str, request: str, sending_us: int, waiting_us: int,
               receiving_us: int) -> None:
        """One response's sending / waiting / receiving (only with `detailed`)."""
        try:
            r = self._reqs[scenario][request]
        except KeyError:
            r = self._req(scenario, request)
        if r.snd is None:
            return
        r.snd(sending_us)
        r.wai(waiting_us)
        r.rcv(receiving_us)
        n = self._pending + 3
        self._pending = n
        if n >= self.buffer_cap:
            self.fold()

    def checks(self, scenario: str, request: str, passed: int, failed: int,
               failures: list[tuple[int, str]] | None = None) -> None:
        """Assertions of one response: how many held and how many did not (k6's `checks`),
        and which failed (check index, message). A request whose response never came
        (timeout, connect error) has no checks."""
        try:
            r = self._reqs[scenario][request]
        except KeyError:
            r = self._req(scenario, request)
        r.checks_passed += passed
        r.checks_failed += failed
        r.check_runs += 1
        if failures:
            fails, first = r.check_fails, r.check_first
            for i, message in failures:
                fails[i] = fails.get(i, 0) + 1
                if i not in first:
                    first[i] = message

    def iteration_done(self, scenario: str, duration_us: int, lag_us: int | None = None) -> None:
        """One completed iteration (with or without failed requests); lag for open model."""
        try:
            s = self._scns[scenario]
        except KeyError:
            s = self._scn(scenario)
        s.iterations += 1
        s.dur(duration_us)
        n = self._pending + 1
        if lag_us is not None:
            s.lag(lag_us)
            n += 1
        self._pending = n
        if n >= self.buffer_cap:
            self.fold()

    def record(self, scenario: str, request: str, metric: str, value_us: int) -> None:
        """One sample of any series (custom metrics, or scenario-level with request "")."""
        try:
            s = self._series[(scenario, request, metric)]
        except KeyError:
            s = self._get_series(scenario, request, metric)
        s.append(value_us)
        self._pending += 1
        if self._pending >= self.buffer_cap:
            self.fold()

    # ---- rare events and gauges --------------------------------------------------------

    def dropped(self, scenario: str, cause: str, n: int = 1) -> None:
        """Iterations that never started (cause: no_vu, behind, ...)."""
        d = self._scn_of(scenario).dropped
        d[cause] = d.get(cause, 0) + n

    def interrupted(self, scenario: str, n: int = 1) -> None:
        """Iterations cut off at stop."""
        self._scn_of(scenario).interrupted += n

    def scheduled(self, scenario: str, n: int) -> None:
        """Open model: arrivals due in this interval (the denominator of drop rates)."""
        self._scn_of(scenario).scheduled += n

    def set_gauges(self, scenario: str, active_vus: int, vus: int) -> None:
        """VUs busy / allocated now; the last values before a drain are reported."""
        s = self._scn_of(scenario)
        s.active_vus = active_vus
        s.vus = vus

    # ---- interval boundary -----------------------------------------------------------

    def fold(self) -> None:
        """Move buffered samples into the series' sparse tallies (bounds memory)."""
        for s in self._series.values():
            if s.buf:
                s.fold()
        self._pending = 0

    def drain_counters(self) -> tuple[list[CounterDelta], list[ScenarioDelta]]:
        """The counters since the last drain, without the histograms (which go on gathering
        until the next `drain`): a worker's counters more often than once a second."""
        if self.breakdown or self.detailed:
            for reqs in self._reqs.values():
                for r in reqs.values():
                    r.fill_zeros()      # the zeros of the requests counted now
        counters = [d for scn, reqs in self._reqs.items() for req, r in reqs.items()
                    if (d := r.delta(scn, req))]
        scenarios = [d for scn, s in self._scns.items() if (d := s.delta(scn))]
        return counters, scenarios

    def drain(self) -> tuple[list[SeriesDelta], list[CounterDelta], list[ScenarioDelta]]:
        """This interval's deltas as wire Structs; resets everything but the gauges.

        Only series with samples, requests with activity, and scenarios with activity or
        non-zero (or just-changed) gauges are included: an idle drain returns ([], [], []).
        """
        if self.breakdown or self.detailed:
            for reqs in self._reqs.values():
                for r in reqs.values():
                    r.fill_zeros()
        series: list[SeriesDelta] = []
        for key, s in self._series.items():
            if not (s.buf or s.tally):
                continue
            s.fold()
            t = s.tally
            series.append(SeriesDelta.of(key[0], key[1], key[2], t.counts, t.n, t.lo, t.hi))
            t.clear()
        self._pending = 0
        counters = [d for scn, reqs in self._reqs.items() for req, r in reqs.items()
                    if (d := r.delta(scn, req))]
        scenarios = [d for scn, s in self._scns.items() if (d := s.delta(scn))]
        return series, counters, scenarios

    # ---- slow path: creating slots -------------------------------------------------------

    def series_count(self) -> int:
        return len(self._series)

    def _get_series(self, scenario: str, request: str, metric: str) -> _Series:
        key = (scenario, request, metric)
        s = self._series.get(key)
        if s is not None:
            return s
        if len(self._series) >= self.max_series and request != OVERFLOW:
            self.overflowed += 1
            return self._get_series(scenario, OVERFLOW, metric)
        s = self._series[key] = _Series()
        return s

    def _req(self, scenario: str, request: str) -> _Req:
        """Slot for a new (scenario, request): its own, or the scenario's overflow slot.

        Overflowed names are not cached, so a flood of distinct names costs a lookup
        each time but no memory.
        """
        metrics = (HTTP_REQ_DURATION, HTTP_REQ_RESPONSE_TIME)
        if self.breakdown or self.detailed:
            metrics += (HTTP_REQ_BLOCKED, HTTP_REQ_CONNECTING)
        if self.detailed:
            metrics += DETAILED_METRICS if self.tls else DETAILED_METRICS[1:]
        missing = sum((scenario, request, m) not in self._series for m in metrics)
        if request != OVERFLOW and len(self._series) + missing > self.max_series:
            self.overflowed += 1
            r = self._reqs.get(scenario, {}).get(OVERFLOW)
            return r if r is not None else self._req(scenario, OVERFLOW)
        series = [self._get_series(scenario, request, m) for m in metrics]
        if self.detailed and not self.tls:
            series.insert(4, None)          # no TLS series: _Req's tls slot stays empty
        r = _Req(*series)
        self._reqs.setdefault(scenario, {})[request] = r
        return r

    def _scn(self, scenario: str) -> _Scn:
        s = _Scn(self._get_series(scenario, "", ITERATION_DURATION),
                 self._get_series(scenario, "", SCHEDULE_LAG))
        self._scns[scenario] = s
        return s

    def _scn_of(self, scenario: str) -> _Scn:
        s = self._scns.get(scenario)
        return s if s is not None else self._scn(scenario)
