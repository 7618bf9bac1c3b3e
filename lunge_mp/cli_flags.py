"""Readers of the flags `run` and `profile run` share: `-e KEY=VALUE`, `--env-file` and
`--threshold METRIC:EXPR`. A wrong one is a usage error (exit 104).
"""

from __future__ import annotations

import click


def env_pairs(pairs: tuple[str, ...], env_file: str | None = None) -> dict[str, str]:
    """`--env-file` lines first, then each `-e KEY=VALUE` (the command line wins)."""
    out = read_env_file(env_file) if env_file else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="-e/--env")
        out[key] = value
    return out


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines (docker's --env-file and dotenv): `#` comments and blank lines skipped,
    an optional `export ` prefix, one pair of surrounding quotes removed."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(1_000_001)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                                 param_hint="--env-file") from None
    if len(text) > 1_000_000:
        raise click.BadParameter(f"{path} is over 1 MB; an env file holds KEY=VALUE lines",
                                 param_hint="--env-file")
    out = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{path} line {lineno}: not KEY=VALUE", param_hint="--env-file")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def threshold_flags(items: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        metric, found, expr = item.partition(":")
        if not found:
            raise click.BadParameter(f"'{item}' is not METRIC:EXPRESSION, e.g. http_req_duration:p(95)<500",
                                     param_hint="--threshold")
        out.setdefault(metric.strip(), []).append(expr.strip())
    return out
