"""Names shared by the worker-side Recorder and the coordinator-side Aggregate.

Kept in one place so a typo cannot split one metric into two series.
"""

from __future__ import annotations

# Latency metrics (histograms, µs). Request-level ones are keyed by request name; the
# scenario-level ones use request "" (see SeriesDelta).
HTTP_REQ_DURATION = "http_req_duration"            # service time: sent → response complete
HTTP_REQ_RESPONSE_TIME = "http_req_response_time"  # from the scheduled instant (CO-corrected)
SCHEDULE_LAG = "schedule_lag"                      # scheduled instant → iteration start
# before a request went out (fast transport), as k6 names them: waiting for a pooled connection
# or a free slot plus opening one, and the opening alone (TCP connect, with TLS for https).
# Recorded when non-zero; the requests that did not wait count as 0 at each drain.
HTTP_REQ_BLOCKED = "http_req_blocked"
HTTP_REQ_CONNECTING = "http_req_connecting"
# settings.timings: detailed (aiohttp: all but TLS, worker/aiohttp_timings.py): the TLS handshake (recorded when non-zero, like
# connecting) and the parts of each response, k6's names: sending (the request written),
# waiting (then to the first byte) and receiving (then to the end of the body).
HTTP_REQ_TLS_HANDSHAKING = "http_req_tls_handshaking"
HTTP_REQ_SENDING = "http_req_sending"
HTTP_REQ_WAITING = "http_req_waiting"
HTTP_REQ_RECEIVING = "http_req_receiving"
DETAILED_METRICS = (HTTP_REQ_TLS_HANDSHAKING, HTTP_REQ_SENDING, HTTP_REQ_WAITING, HTTP_REQ_RECEIVING)
ITERATION_DURATION = "iteration_duration"

# Run-wide histograms every 1-second bucket keeps (merged over all scenarios); per
# scenario a bucket keeps only BUCKET_SCENARIO_METRIC. Everything else lives in totals.
BUCKET_METRICS = (HTTP_REQ_DURATION, HTTP_REQ_RESPONSE_TIME, SCHEDULE_LAG)
BUCKET_SCENARIO_METRIC = HTTP_REQ_DURATION

# Request name that absorbs samples once a Recorder's series cap is reached.
OVERFLOW = "__overflow__"

# Failure classes (the worker decides which applies; these are the documented ones).
FAILURE_CLASSES = ("timeout", "connect", "dns", "tls", "reset", "http_4xx", "http_5xx", "check")
UNKNOWN_FAILURE = "other"
# The load generator's own failures (out of file descriptors or ephemeral ports): the request
# never reached the target. Counted apart from the target's failures everywhere
# (analysis/generator_errors.py; `generatorErrors` in the 1-second buckets).
GENERATOR_FAILURE = "generator"

# Causes of dropped iterations.
DROP_NO_VU = "no_vu"
DROP_BEHIND = "behind"
# A `unique` data source ran out of rows: the data's limit, not the load generator's. Such
# drops are left out of efficiency (neither due nor dropped) and of the BEHIND flag.
DROP_DATA_EXHAUSTED = "data_exhausted"
