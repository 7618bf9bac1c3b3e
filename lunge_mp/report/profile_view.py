"""Console text for saved profiles: the list and one profile (secrets already masked). Pure."""

from __future__ import annotations

from typing import Any

import yaml

from lunge_mp import formatting as fmt

MAX_DESCRIPTION = 50


def _short(text: str, width: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def profiles_table(profiles: list[dict[str, Any]]) -> str:
    """`lunge-mp profile list`: one line a profile; a damaged one says so in place of its fields."""
    if not profiles:
        return "  no profiles saved yet (lunge-mp profile save NAME CONFIG saves one)\n"
    rows = [["profile", "version", "updated (UTC)", "by", "environment", "tags", "secrets", "description"]]
    for p in profiles:
        if "error" in p:
            rows.append([p["name"], str(p["version"]), "-", "-", "-", "-", "-", f"DAMAGED: {p['error']}"])
            continue
        rows.append([p["name"], str(p["version"]), fmt.when(p["updated_at"]), p["updated_by"],
                     p["metadata"].get("environment") or "-", ",".join(p["tags"]) or "-",
                     str(p["secrets"]), _short(p["description"]) or "-"])
    return "\n".join(fmt.table(rows, (0, 2, 3, 4, 5, 7), "  ")) + "\n"


def _metadata_lines(meta: dict[str, Any]) -> list[str]:
    out = []
    for key, label in (("environment", "environment"), ("purpose", "purpose"),
                       ("expected_load", "expected load")):
        if meta.get(key):
            out.append(f"{label}: {meta[key]}")
    for key in ("dependencies", "compatibility"):
        if meta.get(key):
            out.append(f"{key}: {', '.join(meta[key])}")
    out += [f"{k}: {v}" for k, v in (meta.get("custom_fields") or {}).items()]
    return out


def profile_text(profile: dict[str, Any], versions: list[dict[str, Any]]) -> str:
    """`lunge-mp profile show`: the fields, the versions, then the config as YAML (masked)."""
    p = profile
    lines = [f"", f"  profile {p['name']}  v{p['version']} of {p['latest_version']}  (id {p['id']})"]
    rows = [("description", _short(p["description"], 200) or "-"),
            ("tags", ", ".join(p["tags"]) or "-"),
            ("created", f"{fmt.when(p['created_at'])} UTC by {p['created_by']}"),
            ("saved", f"this version {fmt.when(p['updated_at'])} UTC by {p['updated_by']}")]
    meta = _metadata_lines(p["metadata"])
    rows += [("metadata" if i == 0 else "", m) for i, m in enumerate(meta)]
    secrets = [f"{s['field']} ({s['state']})" for s in p["secrets"]]
    rows += [("secrets" if i == 0 else "", s) for i, s in enumerate(secrets)] or [("secrets", "none")]
    shown = [f"v{v['version']} {fmt.when(v['saved_at'])} by {v['saved_by']}" for v in versions[:10]]
    if len(versions) > 10:
        shown.append(f"... {len(versions) - 10} older")
    rows += [("versions" if i == 0 else "", v) for i, v in enumerate(shown)]
    lines += [f"  {label:<13}{value}" for label, value in rows]
    lines += ["", "  config (secrets masked):", ""]
    text = yaml.safe_dump(p["config"], sort_keys=False, allow_unicode=True, default_flow_style=False)
    lines += ["    " + line for line in text.splitlines()]
    return "\n".join(lines) + "\n"
