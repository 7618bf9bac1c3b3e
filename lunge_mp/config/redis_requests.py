"""`redis:` requests (job-queue commands) and `settings.redis` → plan structs. Pure.

```yaml
settings:
  redis: {url: "redis://127.0.0.1:6379/0", password: "${REDIS_PASSWORD}", tls: false, db: 0, poolSize: 50}
requests:
  - name: enqueue
    redis: {command: LPUSH, key: jobs, payload: {id: "{{iteration}}", kind: test}}
  - redis: {command: XADD, key: events, maxlen: 100000, payload: {n: "{{iteration}}"}}
  - redis: {command: ZADD, key: delayed, delay: 30s, payload: {id: "{{uuid}}"}}    # score = now + 30 s (ms)
  - redis: {command: ZADD, key: by-priority, priority: 5, payload: "job-{{iteration}}"}
  - redis: {command: SET, key: "last:{{vu}}", args: ["{{iteration}}", EX, 60]}
```
A request has either `redis:` or `method`/`url`. Its `method` becomes the command and its
`url` the server's URL without any password (allowedHosts and the connection count read it).
Assertions on a Redis request judge the reply as text (`body`) or its time (`duration`), and
`extract` reads the reply (`source: body`). The password (in `password` or in the URL) is
kept out of the URL and is masked in every output (redact.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from lunge_mp.config.checks import parse_assertion, parse_extract
from lunge_mp.config.errors import Errors, describe, index
from lunge_mp.config.fields import Fields, scalar_text
from lunge_mp.plan import RedisCommand, RedisSettings, RequestSpec, Settings
from lunge_mp.scenario.bodies import JsonTemplate

REQUEST_KEYS = ("name", "redis", "timeout", "thinkTime", "assertions", "extract", "tags")
COMMAND_KEYS = ("command", "key", "payload", "args", "field", "maxlen", "approximate", "score",
                "priority", "delay")
SETTINGS_KEYS = ("url", "password", "username", "tls", "db", "poolSize", "insecureSkipVerify")
QUEUE_COMMANDS = ("LPUSH", "RPUSH", "XADD", "ZADD")
REDIS_ASSERTIONS = ("body", "duration")
# commands that would change a pooled connection's state, block it for good, or destroy data
REFUSED = {
    "SUBSCRIBE": "it turns the connection into a subscriber", "PSUBSCRIBE": "", "SSUBSCRIBE": "",
    "MONITOR": "it streams every command", "SYNC": "", "PSYNC": "", "SELECT": "set settings.redis.db",
    "AUTH": "set settings.redis.password", "HELLO": "", "RESET": "", "QUIT": "", "CLIENT": "",
    "FLUSHALL": "it deletes every key", "FLUSHDB": "it deletes every key", "SHUTDOWN": "",
    "DEBUG": "", "MULTI": "transactions are not supported", "EXEC": "", "WATCH": "",
}
_COMMAND = re.compile(r"^[A-Za-z][A-Za-z0-9_.|-]*$")


def is_redis_request(value: object) -> bool:
    return isinstance(value, Mapping) and "redis" in value


def parse_redis_request(value: Mapping[Any, Any], path: str, errs: Errors,
                        settings: Settings) -> RequestSpec | None:
    f = Fields(errs, value, path)
    extra = [k for k in ("method", "url", "headers", "body", "form") if k in value]
    for k in extra:
        f.error(k, "a request has either redis: (a job-queue command) or method/url, not both")
    f.check_keys(REQUEST_KEYS + tuple(extra))
    before = len(errs)
    cmd = parse_command(f.mapping("redis", required=True), f.at("redis"), errs)
    name = f.str("name", nonempty=True)
    if name is None and cmd is not None:
        name = f"{cmd.command} {cmd.key}".strip()
    timeout = f.duration("timeout", settings.timeout, positive=True)
    think_time = f.duration("thinkTime", 0.0)
    assertions = []
    for i, item in enumerate(f.list("assertions") or []):
        a = parse_assertion(item, index(f.at("assertions"), i), errs)
        if a is not None and a.type not in REDIS_ASSERTIONS:
            errs.add(index(f.at("assertions"), i), f"a redis request's reply is judged by "
                     f"{' or '.join(REDIS_ASSERTIONS)} assertions, not {a.type}")
        elif a is not None:
            assertions.append(a)
    extract = []
    for i, item in enumerate(f.list("extract") or []):
        e = parse_extract(item, index(f.at("extract"), i), errs)
        if e is not None and e.source != "body":
            errs.add(index(f.at("extract"), i), "a redis request's values come from its reply: "
                                                "use source: body")
        elif e is not None:
            extract.append(e)
    tags = f.str_map("tags")
    if cmd is None or len(errs) > before:
        return None
    url = (settings.redis or RedisSettings()).url
    return RequestSpec(name=name or cmd.command, method=cmd.command, url=url, timeout=timeout,
                       think_time=think_time, assertions=tuple(assertions), extract=tuple(extract),
                       redis=cmd, body=cmd.payload, tags=tags)


def parse_command(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> RedisCommand | None:
    if m is None:
        return None
    before = len(errs)
    f = Fields(errs, m, path)
    f.check_keys(COMMAND_KEYS)
    raw = f.str("command", "LPUSH", nonempty=True)
    command = raw.upper()
    if not _COMMAND.match(command):
        f.error("command", f"'{raw}' is not a Redis command name")
    elif command in REFUSED:
        why = REFUSED[command]
        f.error("command", f"{command} is not allowed in a load test{': ' + why if why else ''}")
    queue = command in QUEUE_COMMANDS
    key = f.str("key", "", required=f"required for {command}: the queue's key, e.g. key: jobs"
                if queue else False, nonempty=queue)
    payload, is_json = _payload(f, required=queue, command=command)
    args: list[str] = []
    for i, item in enumerate(f.list("args") or []):
        text = scalar_text(item)
        if text is None:
            errs.add(index(f.at("args"), i), f"must be a string or number, got {describe(item)}")
        else:
            args.append(text)
    if args and queue:
        f.error("args", f"{command} takes key and payload; args are for other commands")
    if not queue and not (key or args or payload is not None):
        errs.add(path, f"{command} needs its arguments: key, args (a list) and/or payload")
    only = {"field": "XADD", "maxlen": "XADD", "approximate": "XADD", "score": "ZADD",
            "priority": "ZADD", "delay": "ZADD"}
    for k, cmd in only.items():
        if f.has(k) and command != cmd:
            f.error(k, f"applies to {cmd} only")
    field = f.str("field", "payload", nonempty=True)
    maxlen = f.int("maxlen", 0, minimum=1)
    approximate = f.bool("approximate", True)
    score = None
    for k in ("score", "priority"):
        if f.has(k):
            if score is not None:
                f.error(k, "give one of score, priority or delay")
            score = f.text(k)
    delay = f.duration("delay", None)
    if delay is not None and score is not None:
        f.error("delay", "give one of score, priority or delay")
    if len(errs) > before:
        return None
    return RedisCommand(command=command, key=key or "", payload=payload, payload_json=is_json,
                        args=tuple(args), field=field, maxlen=maxlen or 0,
                        exact_maxlen=not approximate, score=score, delay=delay)


def _payload(f: Fields, required: bool, command: str) -> tuple[str | None, bool]:
    """A string is sent as written (templated); an object or list as JSON."""
    if not f.has("payload"):
        if required:
            f.error("payload", f"required for {command}: the job, e.g. payload: {{id: \"{{{{iteration}}}}\"}}")
        return None, False
    value = f.raw("payload")
    if isinstance(value, (Mapping, list)):
        try:
            JsonTemplate(value)         # refuses what JSON cannot hold (NaN, a date, a non-string key)
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            f.error("payload", f"cannot be sent as JSON: {e}")
            return None, False
        return text, True
    text = scalar_text(value)
    if text is None:
        f.error("payload", f"must be a string, number or an object/list (sent as JSON), got {describe(value)}")
    return text, False


# -- settings.redis ---------------------------------------------------------------------------

def parse_redis_settings(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> RedisSettings | None:
    """`{url, password, username, tls, db, poolSize, insecureSkipVerify}`; `rediss://` is TLS.
    A password in the URL moves to `password` (one of the two)."""
    if m is None:
        return None
    f = Fields(errs, m, path)
    f.check_keys(SETTINGS_KEYS)
    d = RedisSettings()
    raw_url = f.str("url", d.url, nonempty=True)
    try:
        parts = urlsplit(raw_url)
        port = parts.port or 6379
        host = parts.hostname or ""
    except ValueError as e:
        f.error("url", f"invalid URL: {e}; write it like redis://127.0.0.1:6379/0")
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss"):
        f.error("url", f"unsupported scheme '{parts.scheme}'; use redis:// or rediss:// (TLS)")
        return None
    if not host:
        f.error("url", "missing host; write it like redis://127.0.0.1:6379/0")
        return None
    url_db = parts.path.strip("/")
    if url_db and not url_db.isdigit():
        f.error("url", f"the path must be a database number, like /0, got '/{url_db}'")
        url_db = ""
    password = f.str("password", "")
    if parts.password is not None:
        if password:
            f.error("password", "given twice (in url and in password); keep one")
        password = unquote(parts.password)
    username = f.str("username", unquote(parts.username or ""))
    db = f.int("db", int(url_db) if url_db else 0, minimum=0)
    if url_db and f.has("db") and int(url_db) != db:
        f.error("db", f"the url names database {url_db}; keep one")
    tls = f.bool("tls", scheme == "rediss")
    pool = f.int("poolSize", d.pool_size, minimum=1)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"{'rediss' if tls else 'redis'}://{shown_host}:{port}/{db}"
    return RedisSettings(url=url, host=host, port=port, db=db, username=username, password=password,
                         tls=tls, insecure_skip_verify=f.bool("insecureSkipVerify", False), pool_size=pool)
