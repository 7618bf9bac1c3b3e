"""A scenario's `requests:` list → RequestSpec tuples, with settings folded in.

Everything that can be decided at load time is decided here so workers do no config work
on the hot path: relative URLs are joined to settings.baseUrl, `{{baseUrl}}` is substituted,
settings.headers and settings.userAgent are merged under the request's own headers
(case-insensitively: a request's `accept` replaces the settings' `Accept`), object bodies are
serialised to compact JSON once (their templates are filled in string leaves and JSON-encoded at
run time: scenario/bodies.py). Assertions and extraction: config/checks.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lunge_mp.config.checks import parse_assertion, parse_extract
from lunge_mp.config.errors import Errors, describe, index
from lunge_mp.config.fields import Fields
from lunge_mp.config.statuses import parse_expected
from lunge_mp.config.redis_requests import is_redis_request, parse_redis_request
from lunge_mp.plan import RequestSpec, Settings
from lunge_mp.scenario.request_head import headers_problems, url_text_problem

REQUEST_KEYS = ("name", "method", "url", "headers", "body", "form", "timeout", "thinkTime", "assertions",
                "extract", "expectedStatuses", "tags")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

_BASE_URL = re.compile(r"\{\{\s*baseUrl\s*\}\}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")


def parse_requests(value: list[Any], path: str, errs: Errors, settings: Settings,
                   base_ok: bool = True) -> tuple[RequestSpec, ...]:
    """Parse a non-empty list of requests; `base_ok=False` when settings.baseUrl itself was
    invalid (already reported), so URLs built on it are not reported again."""
    out = []
    for i, item in enumerate(value):
        spec = parse_request(item, index(path, i), errs, settings, base_ok)
        if spec is not None:
            out.append(spec)
    return tuple(out)


def parse_request(value: object, path: str, errs: Errors, settings: Settings,
                  base_ok: bool = True) -> RequestSpec | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{method: GET, url: /health}}, got {describe(value)}")
        return None
    if is_redis_request(value):     # a job-queue command (config/redis_requests.py)
        return parse_redis_request(value, path, errs, settings)
    f = Fields(errs, value, path)
    f.check_keys(REQUEST_KEYS)
    raw_method = f.str("method", "GET")
    method = raw_method.upper()
    if method not in METHODS:
        f.error("method", f"unknown method '{raw_method}'; use one of {', '.join(METHODS)}")
    raw_url = f.str("url", required="required, e.g. url: /health or url: \"{{baseUrl}}/health\"",
                    nonempty=True)
    url = ""
    if raw_url is not None and url_text_problem(raw_url):
        f.error("url", url_text_problem(raw_url))
    elif raw_url is not None:
        url = resolve_url(raw_url, settings.base_url, f.at("url"), errs, base_ok)
    name = f.str("name", nonempty=True)
    if name is None:
        name = f"{method} {raw_url or ''}".strip()
    own_headers = f.str_map("headers")
    for where, problem in headers_problems(own_headers, f.at("headers")):
        errs.add(where, problem)
    headers = merge_headers(settings, own_headers)
    body = _body(f, headers)
    form = _form(f, headers)
    body_json = body is not None and not isinstance(f.raw("body"), str)
    timeout = f.duration("timeout", settings.timeout, positive=True)
    think_time = f.duration("thinkTime", 0.0)
    assertions = _each(f.list("assertions"), f.at("assertions"), errs, parse_assertion)
    extract = _each(f.list("extract"), f.at("extract"), errs, parse_extract)
    expected = settings.expected_statuses
    if f.has("expectedStatuses"):
        expected = parse_expected(value["expectedStatuses"], f.at("expectedStatuses"), errs) or expected
    return RequestSpec(name=name, method=method, url=url, headers=headers, body=body, form=form,
                       timeout=timeout, think_time=think_time, assertions=assertions, extract=extract,
                       expected_statuses=expected, body_json=body_json, tags=f.str_map("tags"))


def _each(items: list[Any] | None, path: str, errs: Errors, parse: Any) -> tuple[Any, ...]:
    if not items:
        return ()
    parsed = (parse(item, index(path, i), errs) for i, item in enumerate(items))
    return tuple(p for p in parsed if p is not None)


# -- URL and headers --------------------------------------------------------------------------

def resolve_url(raw: str, base_url: str, path: str, errs: Errors, base_ok: bool = True) -> str:
    """Join to baseUrl / substitute `{{baseUrl}}`, then require http(s) unless still templated."""
    uses_base = raw.startswith("/") or bool(_BASE_URL.search(raw))
    url = _join_base(raw, base_url)
    if url.startswith("/"):
        if base_ok:
            errs.add(path, f"relative URL '{raw}' needs settings.baseUrl; set it or write a full "
                           f"http:// or https:// URL")
        return url
    if uses_base and not base_ok:
        return url
    if url.startswith("{{"):
        return url
    problem = url_problem(url)
    if problem:
        errs.add(path, problem)
    return url


def _join_base(raw: str, base_url: str) -> str:
    base = base_url.rstrip("/")
    if raw.startswith("/"):
        return base + raw if base else raw

    def substitute(m: re.Match[str]) -> str:
        # `{{baseUrl}}/x` must not become `http://h//x` when baseUrl ends in a slash
        return base if raw[m.end():m.end() + 1] == "/" else base_url

    return _BASE_URL.sub(substitute, raw)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be requested, or None. A templated host (`http://{{host}}`) is fine."""
    m = _SCHEME.match(url)
    if not m:
        return f"missing scheme in '{url}'; use http:// or https://"
    scheme = m.group(1).lower()
    if scheme not in ("http", "https"):
        return f"unsupported scheme '{m.group(1)}'; use http:// or https://"
    if not m.group(2):
        return f"missing host in '{url}'"
    return None


def merge_headers(settings: Settings, own: dict[str, str]) -> dict[str, str]:
    """settings.headers under the request's headers (case-insensitive), then User-Agent."""
    merged: dict[str, str] = {}
    lower: dict[str, str] = {}
    for source in (settings.headers, own):
        for key, value in source.items():
            previous = lower.get(key.lower())
            if previous is not None:
                del merged[previous]
            merged[key] = value
            lower[key.lower()] = key
    if settings.user_agent and "user-agent" not in lower:
        merged["User-Agent"] = settings.user_agent
    return merged


def _body(f: Fields, headers: dict[str, str]) -> str | None:
    if not f.has("body"):
        return None
    value = f.raw("body")
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            f.error("body", f"cannot be sent as JSON: {e}")
            return None
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return text
    f.error("body", f"must be a string, or an object/list (sent as JSON), got {describe(value)}; "
                    f"quote it to send it as text")
    return None


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _form(f: Fields, headers: dict[str, str]) -> dict[str, str] | None:
    """`form: {user: "{{users.email}}", remember: 1}` → fields sent url-encoded after rendering."""
    if not f.has("form"):
        return None
    if f.has("body"):
        f.error("form", "give either body or form, not both")
        return None
    if not isinstance(f.raw("form"), Mapping):
        f.error("form", f"must be a mapping of field → value, e.g. {{user: ann, remember: 1}}, "
                        f"got {describe(f.raw('form'))}")
        return None
    form = f.str_map("form")
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = FORM_CONTENT_TYPE
    return form


# -- assertions and extraction -----------------------------------------------------------------
