"""`${VAR}` / `${VAR:-default}` expansion in the config text, before it is parsed.

Expansion is textual (as in Lunge and docker-compose) so a number can come from the
environment too: `vus: ${VUS:-10}` parses as the integer 10. The price is that an expanded
value containing YAML syntax (`: `, `#`) must be quoted in the file.

Lookup order: `overrides` (the CLI's `-e KEY=VALUE`), then `environ`. As in the shell,
`${VAR:-default}` uses the default when VAR is unset *or empty*. `$${` writes a literal `${`.
Whole-line YAML comments are left alone, so a commented-out `${OLD_VAR}` is not an error.
Every unset variable is reported (with its line), not just the first. `max_chars` bounds the
expanded text: a long value used many times could otherwise grow it without limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lunge_mp.config.errors import ConfigError

_REF = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str, overrides: Mapping[str, str] | None = None,
               environ: Mapping[str, str] | None = None, *, skip_comments: bool = False,
               source: str = "", max_chars: int | None = None) -> str:
    """Return `text` with every `${VAR}` reference replaced; ConfigError lists each unset VAR."""
    overrides = overrides or {}
    environ = environ or {}
    missing: list[str] = []
    seen: set[str] = set()
    size = [len(text)]

    def lookup(name: str) -> str | None:
        if name in overrides:
            return overrides[name]
        return environ.get(name)

    def expand_line(line: str, lineno: int) -> str:
        def replace(m: re.Match[str]) -> str:
            escaped, name, default = m.group(1), m.group(2), m.group(3)
            if escaped:
                return m.group(0)[1:]
            value = lookup(name)
            if default is not None and not value:
                value = default
            if value is not None and max_chars is not None:
                size[0] += len(value) - len(m.group(0))
                if size[0] > max_chars:
                    where = f"{source}: line {lineno}" if source else f"line {lineno}"
                    raise ConfigError([f"{where}: the text grows past {max_chars:,} characters as "
                                       f"${{{name}}} is expanded, the most a config may be"], source)
            if value is None:
                if name not in seen:
                    seen.add(name)
                    where = f"{source}: line {lineno}" if source else f"line {lineno}"
                    missing.append(
                        f"{where}: environment variable {name} is not set (used as ${{{name}}}); "
                        f"set it, pass -e {name}=VALUE, or give a default: ${{{name}:-VALUE}}")
                return m.group(0)
            return value

        return _REF.sub(replace, line)

    lines = text.splitlines(keepends=True)
    out = []
    for lineno, line in enumerate(lines, start=1):
        if skip_comments and line.lstrip().startswith("#"):
            out.append(line)
        else:
            out.append(expand_line(line, lineno))
    if missing:
        raise ConfigError(missing, source)
    return "".join(out)


def referenced_names(text: str) -> set[str]:
    """Every VAR that `text` refers to as `${VAR}` or `${VAR:-default}` (not `$${VAR}`)."""
    return {m.group(2) for m in _REF.finditer(text) if not m.group(1)}
