"""`lunge-mp perf --url ...`: command-line flags → a Lunge v2 document. Pure.

The document then goes through the same validation as a file; `flag_errors` turns the field
paths of its errors back into the flags they came from.

Which executor runs (k6's rules where k6 has them):
    --executor E       E
    --pattern          pattern
    --rate             constant-arrival-rate
    --stages           ramping-vus
    --iterations       shared-iterations (k6: --vus with --iterations)
    otherwise          constant-vus (10 VUs for 30 s)
Every load flag must mean something to that executor: a flag it would ignore is refused, naming
the flag and the one that chose the executor, so no flag is ever dropped silently.
"""

from __future__ import annotations

import re
from typing import Any

from lunge_mp.config.executors import EXECUTOR_KEYS
from lunge_mp.executors import BY_NAME

# k6's values for the load keys a quick run's flags leave out (the others stay unset, so the
# config names what is missing); per executor, as their keys mean different things
QUICK_DEFAULTS: dict[str, dict[str, Any]] = {
    "constant-vus": {"vus": 10, "duration": "30s"},
    "per-vu-iterations": {"vus": 1, "iterations": 1},
    "shared-iterations": {"vus": 1, "iterations": 1},
    "constant-arrival-rate": {"duration": "30s"},
}

# load flag → the scenario key it sets (the duration flag sets maxDuration for iteration executors)
LOAD_FLAGS = {
    "--vus": "vus", "-d/--duration": "duration", "--rate": "rate", "--stages": "stages",
    "--pattern": "pattern", "--iterations": "iterations", "--pre-allocated-vus": "preAllocatedVUs",
    "--max-vus": "maxVUs", "--pacing": "pacing",
}
# flags that pick an executor when --executor is not given, most specific first
_CHOOSERS = (("--pattern", "pattern"), ("--rate", "constant-arrival-rate"),
             ("--stages", "ramping-vus"), ("--iterations", "shared-iterations"))

# field path in the generated document → the flag that set it (longest match wins)
_PATH_FLAGS = {
    "name": "--name",
    "scenarios.quick.executor": "--executor",
    "scenarios.quick.requests[0].url": "--url",
    "scenarios.quick.requests[0].method": "-X/--method",
    "scenarios.quick.requests[0].headers": "-H/--header",
    "scenarios.quick.requests[0].body": "--body",
    "scenarios.quick.requests[0].timeout": "--timeout",
    "scenarios.quick.requests[0].thinkTime": "--think-time",
    "scenarios.quick.maxDuration": "-d/--duration",
    **{f"scenarios.quick.{key}": flag for flag, key in LOAD_FLAGS.items()},
}
# config keys named inside messages (hints such as "raise maxVUs") → their flags
_KEY_FLAGS = {"preAllocatedVUs": "--pre-allocated-vus", "maxVUs": "--max-vus"}


def parse_stages(text: str) -> list[dict[str, Any]]:
    """`30s:10,1m:50,30s:0` → [{duration: 30s, target: 10}, ...]."""
    stages = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        duration, sep, target = part.partition(":")
        if not sep:
            raise ValueError(f"stage '{part}' must be DURATION:TARGET, e.g. 30s:10")
        stages.append({"duration": duration.strip(), "target": _scalar(target)})
    if not stages:
        raise ValueError("no stages given; write them like 30s:10,1m:50,30s:0")
    return stages


def parse_pattern(text: str) -> dict[str, Any]:
    """`sine:baseRate=100,amplitude=50,period=1m,duration=5m` → {type: sine, baseRate: 100, ...}.

    `custom:` may be followed by the pattern as JSON or YAML flow text instead, e.g.
    `custom:{points: [{time: 0s, rate: 10}, {time: 30s, rate: 100}]}`.
    """
    kind, _, rest = text.partition(":")
    kind, rest = kind.strip(), rest.strip()
    if rest.startswith("{"):
        import yaml     # here: `perf --url` without a pattern starts without loading YAML

        try:
            body = yaml.safe_load(rest)
        except yaml.YAMLError as exc:
            raise ValueError(f"pattern '{kind}': the text after ':' is not valid JSON/YAML ({exc})") from None
        if not isinstance(body, dict):
            raise ValueError(f"pattern '{kind}': the text after ':' must be a mapping")
        return {"type": kind, **body}
    pattern: dict[str, Any] = {"type": kind}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"pattern option '{part}' must be KEY=VALUE, e.g. baseRate=100")
        pattern[key.strip()] = _scalar(value)
    return pattern


def parse_pacing(text: str) -> dict[str, Any]:
    """`1s` → constant pacing; `1s-3s` (or `1s..3s`) → random between the two."""
    low, sep, high = text.replace("..", "-").partition("-")
    if sep:
        return {"type": "random", "min": low.strip(), "max": high.strip()}
    return {"type": "constant", "duration": text.strip()}


def _scalar(text: str) -> Any:
    """`100` → 100, `1m` → "1m", `true` → True: what the same text means in YAML."""
    import yaml

    try:
        return yaml.safe_load(text.strip())
    except yaml.YAMLError:
        return text.strip()


def choose_executor(given: dict[str, Any], executor: str | None) -> tuple[str, str]:
    """(executor, the flag that chose it), or ValueError naming two flags that disagree."""
    if executor is not None:
        return executor, "--executor"
    choosers = [(flag, ex) for flag, ex in _CHOOSERS if given.get(flag) is not None]
    if len(choosers) > 1:
        (a, ex_a), (b, ex_b) = choosers[:2]
        raise ValueError(f"{a} and {b} cannot be combined: {a} runs {ex_a}, {b} runs {ex_b}; "
                         f"give one of them (or --executor to say which)")
    return choosers[0][::-1] if choosers else ("constant-vus", "the default")


def check_flags(given: dict[str, Any], executor: str, chosen_by: str) -> None:
    """ValueError naming each load flag that `executor` would not use, and what chose it."""
    keys = set(EXECUTOR_KEYS[executor])
    if not BY_NAME[executor].is_open:
        keys.add("pacing")            # pacing is a closed-model setting
    if BY_NAME[executor].iteration_based:
        keys.add("duration")          # -d is the iteration executors' maxDuration
    wrong = [flag for flag, value in given.items()
             if value is not None and flag in LOAD_FLAGS and LOAD_FLAGS[flag] not in keys]
    if not wrong:
        return
    why = f"{chosen_by} {executor}" if chosen_by == "--executor" else \
        f"the executor is {executor}, chosen by {chosen_by}"
    usable = ", ".join(flag for flag, key in LOAD_FLAGS.items() if key in keys)
    raise ValueError(f"{', '.join(wrong)} cannot be used here: {why} "
                     f"(its flags: {usable}); remove {'it' if len(wrong) == 1 else 'them'} "
                     f"or pick another executor")


def quick_config(url: str, executor: str | None = None, vus: int | None = None,
                 duration: str | None = None, rate: float | None = None, stages: str | None = None,
                 pre_allocated_vus: int | None = None, max_vus: int | None = None,
                 pattern: str | None = None, method: str = "GET", headers: dict[str, str] | None = None,
                 body: str | None = None, timeout: str | None = None,
                 thresholds: dict[str, list[str]] | None = None, iterations: int | None = None,
                 think_time: str | None = None, pacing: str | None = None,
                 name: str | None = None) -> dict[str, Any]:
    """The document for one scenario named `quick` that sends METHOD URL per iteration.

    ValueError (naming the flags) when flags conflict or one would be ignored.
    """
    given = {"--vus": vus, "-d/--duration": duration, "--rate": rate, "--stages": stages,
             "--pattern": pattern, "--iterations": iterations, "--pre-allocated-vus": pre_allocated_vus,
             "--max-vus": max_vus, "--pacing": pacing}
    executor, chosen_by = choose_executor(given, executor)
    check_flags(given, executor, chosen_by)
    scenario: dict[str, Any] = {"executor": executor}
    load = {"vus": vus, "duration": duration or None, "rate": rate, "iterations": iterations,
            "stages": parse_stages(stages) if stages else None,
            "pattern": parse_pattern(pattern) if pattern else None}
    defaults = QUICK_DEFAULTS.get(executor, {})
    for key in EXECUTOR_KEYS[executor]:         # its load keys, in its order
        if key in load:
            scenario[key] = defaults.get(key) if load[key] is None else load[key]
    if BY_NAME[executor].iteration_based and duration:
        scenario["maxDuration"] = duration
    if pre_allocated_vus is not None:
        scenario["preAllocatedVUs"] = pre_allocated_vus
    if max_vus is not None:
        scenario["maxVUs"] = max_vus
    if pacing:
        scenario["pacing"] = parse_pacing(pacing)
    request: dict[str, Any] = {"name": f"{method.upper()} {url}", "method": method, "url": url}
    if headers:
        request["headers"] = headers
    if body is not None:
        request["body"] = body
    if timeout:
        request["timeout"] = timeout
    if think_time:
        request["thinkTime"] = think_time
    scenario["requests"] = [request]
    doc: dict[str, Any] = {"name": name or f"perf {method.upper()} {url} ({load_shape(scenario)})",
                           "scenarios": {"quick": scenario}}
    if thresholds:
        doc["thresholds"] = thresholds
    return doc


def _count(n: Any, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def load_shape(scenario: dict[str, Any]) -> str:
    """A few words for the load, so quick runs of one URL at other loads get other names."""
    kind = BY_NAME[scenario["executor"]]
    if kind.iteration_based:
        return f"{_count(scenario['vus'], 'VU')}, {_count(scenario['iterations'], 'iteration')}" + \
            ("" if kind.shares_iterations else " each")
    if kind.load_key == "vus":
        return f"{_count(scenario['vus'], 'VU')}, {scenario['duration']}"
    if kind.load_key == "rate":
        return f"{scenario['rate']:g}/s, {scenario['duration']}" if isinstance(scenario["rate"], (int, float)) \
            else f"rate {scenario['rate']}, {scenario['duration']}"
    if kind.load_key == "pattern":
        return f"pattern {(scenario.get('pattern') or {}).get('type')}"
    stages = scenario.get("stages") or []
    return "stages " + ",".join(f"{s['duration']}:{s['target']}" for s in stages)


def flag_errors(lines: list[str]) -> list[str]:
    """Config error lines about the generated document, said in terms of the flags.

    `scenarios.quick.duration: invalid duration '2sec'` → `-d/--duration: invalid duration '2sec'`;
    `... raise maxVUs ...` → `... raise --max-vus ...`.
    """
    out = []
    for line in lines:
        path, sep, message = line.partition(": ")
        match = max((p for p in _PATH_FLAGS if path == p or path.startswith((p + ".", p + "["))),
                    key=len, default=None)
        if sep and match is not None:
            rest = path[len(match):].lstrip(".")
            path = _PATH_FLAGS[match] + (f" ({rest})" if rest else "")
            for key, flag in _KEY_FLAGS.items():
                message = re.sub(rf"\b{key}\b", flag, message)
        out.append(f"{path}{sep}{message}")
    return out
