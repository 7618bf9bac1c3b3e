"""What every scenario of a plan has, whatever its executor: its requests (with their checks,
extractions and Redis commands), its data files, its pacing, and the stages of a ramp.

Apart from `lunge_mp.plan` so the executors (lunge_mp/executors/) can build on these parts
while the plan holds the executors. Units as in the plan: seconds, iterations per second.
"""

from __future__ import annotations

import msgspec


class Stage(msgspec.Struct, frozen=True):
    duration: float
    target: float
    name: str = ""


class Pacing(msgspec.Struct, frozen=True):
    type: str = "none"          # none | constant | random
    duration: float = 0.0       # constant
    min: float = 0.0            # random
    max: float = 0.0


class Assertion(msgspec.Struct, frozen=True):
    type: str                   # status | body | header | duration
    condition: str = "eq"       # eq ne gt lt gte lte contains matches exists
    value: str = ""
    path: str = ""              # body: JSONPath
    name: str = ""              # header name
    label: str = ""             # the check's name in reports (`check:`), or one made from the rest


class Extract(msgspec.Struct, frozen=True):
    name: str
    source: str                 # body | header | status
    path: str = ""
    regex: str = ""


class DataSource(msgspec.Struct, frozen=True):
    """A CSV file whose rows feed `{{name.column}}` templates, one row per iteration."""
    name: str
    file: str                   # as written in the config
    mode: str = "sequential"    # sequential | random | unique
    path: str = ""              # absolute; resolved against the config file's folder at load
    columns: tuple[str, ...] = ()   # the header row, read at load
    rows: int = 0               # data rows, counted at load


class RedisCommand(msgspec.Struct, frozen=True):
    """A `redis:` request: one command, its parts templated (config/redis_requests.py).

    The argument list is built per request by scenario/redis_command.py: LPUSH/RPUSH key
    payload; XADD key [MAXLEN ~ n] * field payload; ZADD key score payload with score =
    unix ms + delay, or a fixed/template score (priority); any other command: args as given.
    """
    command: str                # upper case: LPUSH RPUSH XADD ZADD, or any other by name
    key: str = ""               # template
    payload: str | None = None  # template text; `payload_json`: JSON whose values are escaped
    payload_json: bool = False
    args: tuple[str, ...] = ()  # other commands: the arguments after the command name
    field: str = "payload"      # XADD: the entry's field name
    maxlen: int = 0             # XADD: MAXLEN ~ n (0 = no trimming)
    exact_maxlen: bool = False  # XADD: MAXLEN = n instead of ~ n
    score: str | None = None    # ZADD: a number or template (priority); None with delay
    delay: float | None = None  # ZADD: score = now (unix ms) + delay seconds


class RequestSpec(msgspec.Struct, frozen=True):
    name: str                   # metric series name
    method: str
    url: str                    # template, already joined with baseUrl when relative
    headers: dict[str, str] = {}
    body: str | None = None     # template text; objects were serialised to JSON
    form: dict[str, str] | None = None   # field → template; sent url-encoded (body is None then)
    timeout: float = 30.0
    think_time: float = 0.0
    assertions: tuple[Assertion, ...] = ()
    extract: tuple[Extract, ...] = ()
    expected_statuses: tuple[tuple[int, int], ...] = ((200, 399),)   # others fail the request
    redis: RedisCommand | None = None   # a job-queue command instead of HTTP (method: the command)
    # body came from an object/list: its templates fill string leaves, JSON-encoded
    # (lunge_mp/scenario/bodies.py); False: a raw text body, substituted as it is
    body_json: bool = False
    tags: dict[str, str] = {}   # over the scenario's; threshold filters select by them
