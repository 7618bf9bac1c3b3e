"""Saved test profiles: named, versioned test configs in the history store (seed 004).

A profile is seed 004's `LoadTestProfile`: id, name, description, version, created/updated at,
created by, tags, metadata (environment, purpose, expected load, dependencies, compatibility,
custom fields), and the test itself as a Lunge v2 config document. Every save of a name adds
a version; older versions stay readable and runnable until the profile is deleted.

Tables (history.py, schema version 2):

    profiles          one row a profile: id, name (UNIQUE), latest version, and the latest
                      version's description, tags and metadata (JSON), for listing without blobs
    profile_versions  (profile id, version) → who saved it when, its fields, the config with its
                      secrets masked (zlib JSON) and the secrets apart: field path, key id and
                      AES-GCM ciphertext each (JSON; see profile_secrets.py, profile_crypto.py)

The config is checked by the caller (lunge_mp/profile_ops.py) before it is saved here; this
module checks names, tags and metadata, keeps the secrets out of the readable part, and keeps
versions numbered without gaps under the store's write lock, so two processes saving at once
both get their version. A damaged row is named in the error and never hides the others.
"""

from __future__ import annotations

import json
import re
import secrets as _random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from lunge_mp.store import profile_secrets as ps
from lunge_mp.store.history import Store, StoreError, _now, _sql_errors
from lunge_mp.store.profile_crypto import DecryptError, KeyRing

MAX_NAME = 100
MAX_DESCRIPTION = 10_000
MAX_TAGS = 50
MAX_TEXT = 1_000
MAX_CUSTOM_FIELDS = 100
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:=/-]{0,63}$")
PROFILE_ID = re.compile(r"^prf_[0-9a-f]{16}$")
EXPORT_FORMAT = "lunge_mp profile"
EXPORT_VERSION = 1
METADATA_TEXT = ("environment", "purpose", "expected_load")
METADATA_LISTS = ("dependencies", "compatibility")
_CAMEL = {"expectedLoad": "expected_load", "customFields": "custom_fields"}


class ProfileInvalid(StoreError):
    """A bad name, tag, metadata field, export document or config: the input's fault."""


class ProfileNotFound(StoreError):
    """No profile (or no such version of it)."""


class ProfileExists(StoreError):
    """A profile of that name exists where a new one was asked for (create, import)."""


class ProfileDamaged(StoreError):
    """A stored row that cannot be read back; the message names the profile."""


class SecretUnreadable(StoreError):
    """Secrets a run needs that cannot be decrypted here: `.fields` names each with the reason,
    `.hint` says what to do."""

    def __init__(self, head: str, fields: list[str], hint: str) -> None:
        super().__init__(f"{head}: " + "; ".join(fields) + (f" ({hint})" if hint else ""))
        self.head, self.fields, self.hint = head, fields, hint


def check_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        raise ProfileInvalid("a profile needs a name, e.g. 'checkout-nightly'")
    if len(text) > MAX_NAME:
        raise ProfileInvalid(f"profile name is {len(text)} characters long; keep it to {MAX_NAME}")
    if not NAME.match(text) or ".." in text:
        raise ProfileInvalid(f"profile name {text!r} may hold only letters, digits, '.', '_' and '-' "
                             f"(starting with a letter or digit; no '/', '\\\\', '..' or spaces)")
    if PROFILE_ID.match(text):
        raise ProfileInvalid(f"profile name {text!r} looks like a profile id; pick another name")
    return text


def check_tags(tags: object) -> list[str]:
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
        raise ProfileInvalid("tags must be a list of strings")
    out = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(out) > MAX_TAGS:
        raise ProfileInvalid(f"{len(out)} tags; a profile may have at most {MAX_TAGS}")
    for tag in out:
        if not TAG.match(tag):
            raise ProfileInvalid(f"tag {tag!r}: use letters, digits and . _ : = / - (at most 64, "
                                 f"starting with a letter or digit)")
    return out


def check_description(text: object) -> str:
    if not isinstance(text, str):
        raise ProfileInvalid("description must be a string")
    if len(text) > MAX_DESCRIPTION:
        raise ProfileInvalid(f"description is {len(text)} characters long; keep it to {MAX_DESCRIPTION}")
    return text


def check_metadata(meta: object) -> dict[str, Any]:
    """Seed 004's ProfileMetadata; camelCase spellings accepted, unknown keys refused."""
    if not isinstance(meta, Mapping):
        raise ProfileInvalid("metadata must be a mapping (environment, purpose, expected_load, "
                             "dependencies, compatibility, custom_fields)")
    meta = {_CAMEL.get(k, k): v for k, v in meta.items()}
    unknown = sorted(set(map(str, meta)) - {*METADATA_TEXT, *METADATA_LISTS, "custom_fields"})
    if unknown:
        raise ProfileInvalid(f"metadata.{unknown[0]}: unknown field; known: environment, purpose, "
                             f"expected_load, dependencies, compatibility, custom_fields")
    out: dict[str, Any] = {}
    for key in METADATA_TEXT:
        value = meta.get(key, "")
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ProfileInvalid(f"metadata.{key}: must be a string of at most {MAX_TEXT} characters")
        out[key] = value
    for key in METADATA_LISTS:
        value = meta.get(key, [])
        if not isinstance(value, list) or len(value) > MAX_TAGS or not all(
                isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
            raise ProfileInvalid(f"metadata.{key}: must be a list of at most {MAX_TAGS} strings")
        out[key] = list(value)
    custom = meta.get("custom_fields", {})
    if not isinstance(custom, Mapping) or len(custom) > MAX_CUSTOM_FIELDS or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 100 and len(v) <= MAX_TEXT
            for k, v in custom.items()):
        raise ProfileInvalid(f"metadata.custom_fields: must map at most {MAX_CUSTOM_FIELDS} names "
                             f"to strings")
    out["custom_fields"] = dict(custom)
    return out


@dataclass
class SecretField:
    path: ps.Path
    ciphertext: str | None       # None: left out (an export without secrets)
    key_id: str | None

    @property
    def field(self) -> str:
        return ps.field_name(self.path)

    def to_json(self, with_secret: bool = True) -> dict[str, Any]:
        return {"field": self.field, "path": list(self.path), "keyId": self.key_id,
                "ciphertext": self.ciphertext if with_secret else None}


@dataclass
class ProfileVersion:
    """One version of a profile, secrets masked in `config` and encrypted in `secrets`."""
    id: str
    name: str
    version: int
    latest: int
    description: str
    tags: list[str]
    metadata: dict[str, Any]
    created_at: str
    created_by: str
    saved_at: str
    saved_by: str
    config: Any
    secrets: list[SecretField] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Seed 004's LoadTestProfile as JSON: what `show --json` and the API answer (masked)."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "version": self.version, "latest_version": self.latest,
                "created_at": self.created_at, "updated_at": self.saved_at,
                "created_by": self.created_by, "updated_by": self.saved_by, "tags": self.tags,
                "metadata": self.metadata, "config": self.config,
                "secrets": [{"field": s.field, "state": "encrypted" if s.ciphertext else "left out"}
                            for s in self.secrets]}

    def export_doc(self, with_secrets: bool = True) -> dict[str, Any]:
        """A portable JSON document: the readable profile, its secrets still encrypted (or left out)."""
        profile = {k: v for k, v in self.to_dict().items()
                   if k not in ("config", "secrets", "latest_version", "updated_by")}
        return {"format": EXPORT_FORMAT, "formatVersion": EXPORT_VERSION, "exportedAt": _now(),
                "profile": profile, "config": self.config,
                "secrets": [s.to_json(with_secrets) for s in self.secrets]}

    def reveal(self, keys: KeyRing, provided: set[ps.Path] | frozenset = frozenset()) -> Any:
        """The config with its secrets decrypted, for a run. Fields in `provided` are left masked
        (the caller supplies them, e.g. `-e NAME=VALUE`). SecretUnreadable names every field
        that cannot be read and why."""
        values: dict[ps.Path, Any] = {}
        problems: list[str] = []
        hints: dict[str, None] = {}
        key = None
        for s in self.secrets:
            if s.path in provided:
                continue
            if s.ciphertext is None:
                problems.append(f"{s.field}: left out when the profile was exported")
                hints["save the profile again from its config here (a variable can be given "
                      "with -e NAME=VALUE)"] = None
                continue
            try:
                key = key or keys.require()
            except StoreError as exc:
                problems.append(f"{s.field}: no key")
                hints[str(exc)] = None
                continue
            if s.key_id and s.key_id != key.id:
                problems.append(f"{s.field}: encrypted with key {s.key_id}, the key here is {key.id}")
                hints[f"the wrong key ({key.source}): use the key the profile was saved with"] = None
                continue
            try:
                values[s.path] = ps.decode_value(key.decrypt(s.ciphertext, s.field))
            except (DecryptError, ValueError) as exc:
                problems.append(str(exc) if isinstance(exc, DecryptError) else f"{s.field}: {exc}")
        if problems:
            raise SecretUnreadable(f"profile '{self.name}' v{self.version}: {len(problems)} "
                                   f"secret(s) cannot be read", problems, "; ".join(hints))
        return ps.restore(self.config, values)


_decode = msgspec.json.decode      # several times faster than json.loads: list reads 2,000 fields


def _pack(doc: Any) -> bytes:
    return zlib.compress(msgspec.json.encode(doc), 6)


def _secrets_json(fields: list[SecretField]) -> str:
    return json.dumps([{"path": list(s.path), "keyId": s.key_id, "ciphertext": s.ciphertext}
                       for s in fields], separators=(",", ":"))


def _secrets_from_json(text: str) -> list[SecretField]:
    out = []
    for item in _decode(text):
        cipher, key = item.get("ciphertext"), item.get("keyId")
        if cipher is not None and not isinstance(cipher, str) or key is not None and not isinstance(key, str):
            raise ValueError("a secret entry is not text")
        out.append(SecretField(ps.path_from_json(item.get("path")), cipher, key))
    return out


class ProfileStore(Store):
    """The history store with the profile operations; opened like Store (path or default)."""

    def _profile_row(self, ref: str):
        ref = ref.strip() if isinstance(ref, str) else ""
        row = self._db.execute("SELECT * FROM profiles WHERE id = ?", (ref,)).fetchone()
        if row is None:
            row = self._db.execute("SELECT * FROM profiles WHERE name = ?", (ref,)).fetchone()
        return row

    def _unknown(self, ref: str) -> ProfileNotFound:
        names = [r[0] for r in self._db.execute("SELECT name FROM profiles ORDER BY name LIMIT 11")]
        known = (f"known: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''}" if names
                 else "there are none yet")
        return ProfileNotFound(f"no profile '{ref}' in {self.path} ({known})")

    def _version(self, prow, version: int) -> ProfileVersion:
        vrow = self._db.execute("SELECT * FROM profile_versions WHERE profile_id = ? AND version = ?",
                                (prow["id"], version)).fetchone()
        if vrow is None:
            raise ProfileNotFound(f"profile '{prow['name']}' has no version {version} "
                                  f"(versions 1 to {prow['latest']}, some may be missing)")
        try:
            return ProfileVersion(
                id=prow["id"], name=prow["name"], version=version, latest=prow["latest"],
                description=vrow["description"], tags=_decode(vrow["tags"]),
                metadata=_decode(vrow["metadata"]), created_at=prow["created_at"],
                created_by=prow["created_by"], saved_at=vrow["saved_at"], saved_by=vrow["saved_by"],
                config=_decode(zlib.decompress(vrow["config"])),
                secrets=_secrets_from_json(vrow["secrets"]))
        except (ValueError, TypeError, AttributeError, zlib.error) as exc:
            raise ProfileDamaged(f"profile '{prow['name']}' v{version} is damaged in the store "
                                 f"({type(exc).__name__}: {exc}); save it again from its config, "
                                 f"or delete it") from None

    @_sql_errors
    def get(self, ref: str, version: int | None = None) -> ProfileVersion:
        """A profile by id or name: its latest version, or `version`."""
        prow = self._profile_row(ref)
        if prow is None:
            raise self._unknown(ref)
        return self._version(prow, prow["latest"] if version is None else int(version))

    @_sql_errors
    def save(self, name: str, config: Any, *, by: str, keys: KeyRing, description: str | None = None,
             tags: list[str] | None = None, metadata: Mapping[str, Any] | None = None,
             mode: str = "any", imported: dict[str, Any] | None = None) -> ProfileVersion:
        """Store `config` (already checked) as the next version of `name` (version 1 if new).

        mode: "any"; "create" (ProfileExists if the name is taken); "update" (ProfileNotFound
        if it is not). Fields left None keep the previous version's (empty for a new one).
        A secret sent back as its own mask (as `show` prints it) keeps the previous version's
        secret. `imported`: an export document's id, created at/by and encrypted secrets (a
        secret the document holds in clear is encrypted here all the same).
        """
        name = check_name(name)
        description = None if description is None else check_description(description)
        tags = None if tags is None else check_tags(tags)
        metadata = None if metadata is None else check_metadata(metadata)
        masked, clear = ps.split(config)
        fields: list[SecretField] = []
        if imported is not None:        # its secrets come encrypted; any other is encrypted here
            fields = list(imported["secrets"])
            known = {f.path for f in fields}
            clear = {p: v for p, v in clear.items() if p not in known}
            masked = ps.restore(config, {p: ps.get_at(masked, p) for p in clear})
        key = keys.get(create=True) if clear else None
        fields += [SecretField(path, key.encrypt(ps.encode_value(value), ps.field_name(path)), key.id)
                   for path, value in clear.items()] if key else []
        blob = _pack(masked)
        now = _now()
        with self._write() as db:
            prow = self._profile_row(name)      # names never look like ids (check_name)
            if prow is None and mode == "update":
                raise self._unknown(name)
            if prow is not None and mode == "create":
                raise ProfileExists(f"profile '{name}' already exists (v{prow['latest']}, id "
                                    f"{prow['id']}); save a new version with PUT or `profile save`, "
                                    f"import it under another name (--as NAME), or delete it first")
            if prow is None:
                pid = (imported or {}).get("id") or ""
                if not PROFILE_ID.match(pid) or db.execute(
                        "SELECT 1 FROM profiles WHERE id = ?", (pid,)).fetchone():
                    pid = f"prf_{_random.token_hex(8)}"
                version, created_at, created_by = 1, now, by
                if imported:
                    created_at = imported.get("created_at") or now
                    created_by = imported.get("created_by") or by
                previous = None
            else:
                pid, version = prow["id"], prow["latest"] + 1
                created_at, created_by = prow["created_at"], prow["created_by"]
                try:
                    previous = self._version(prow, prow["latest"])
                except StoreError:
                    previous = None     # a damaged or missing previous version: carry nothing
            if previous is not None:
                description = previous.description if description is None else description
                tags = previous.tags if tags is None else tags
                metadata = previous.metadata if metadata is None else metadata
                if imported is None:
                    masked, fields = _carry_secrets(config, masked, fields, previous)
                    blob = _pack(masked)
            description, tags = description or "", tags or []
            metadata = metadata if metadata is not None else check_metadata({})
            row = (pid, version, now, by, description, json.dumps(tags), json.dumps(metadata),
                   blob, _secrets_json(fields))
            db.execute("INSERT INTO profile_versions (profile_id, version, saved_at, saved_by, "
                       "description, tags, metadata, config, secrets) VALUES (?,?,?,?,?,?,?,?,?)", row)
            db.execute("INSERT OR REPLACE INTO profiles (id, name, latest, description, tags, "
                       "metadata, secrets, created_at, created_by, updated_at, updated_by) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (pid, name, version, description, json.dumps(tags), json.dumps(metadata),
                        len(fields), created_at, created_by, now, by))
        return ProfileVersion(pid, name, version, version, description, tags, metadata, created_at,
                              created_by, now, by, masked, fields)

    @_sql_errors
    def profiles(self, tag: str | None = None) -> list[dict[str, Any]]:
        """Every profile (latest version), by name; a damaged row is listed with `error` set."""
        out = []
        for r in self._db.execute("SELECT * FROM profiles ORDER BY name"):
            item = {"id": r["id"], "name": r["name"], "version": r["latest"]}
            try:
                tags, metadata = _decode(r["tags"]), _decode(r["metadata"])
                if not isinstance(tags, list) or not isinstance(metadata, dict):
                    raise ValueError("tags or metadata of the wrong type")
            except (ValueError, TypeError) as exc:
                out.append({**item, "error": f"damaged row ({exc}); save it again or delete it"})
                continue
            if tag is not None and tag not in tags:
                continue
            out.append({**item, "description": r["description"], "tags": tags, "metadata": metadata,
                        "secrets": r["secrets"], "created_at": r["created_at"],
                        "created_by": r["created_by"], "updated_at": r["updated_at"],
                        "updated_by": r["updated_by"]})
        return out

    @_sql_errors
    def versions(self, ref: str) -> list[dict[str, Any]]:
        """The versions of a profile, newest first: who saved each when, and its description."""
        prow = self._profile_row(ref)
        if prow is None:
            raise self._unknown(ref)
        return [{"version": v["version"], "saved_at": v["saved_at"], "saved_by": v["saved_by"],
                 "description": v["description"]}
                for v in self._db.execute("SELECT version, saved_at, saved_by, description FROM "
                                          "profile_versions WHERE profile_id = ? ORDER BY version DESC",
                                          (prow["id"],))]

    @_sql_errors
    def delete(self, ref: str) -> tuple[str, int]:
        """Remove a profile and all its versions: (its name, how many versions went)."""
        with self._write() as db:
            prow = self._profile_row(ref)
            if prow is None:
                raise self._unknown(ref)
            count = db.execute("DELETE FROM profile_versions WHERE profile_id = ?", (prow["id"],)).rowcount
            db.execute("DELETE FROM profiles WHERE id = ?", (prow["id"],))
        return prow["name"], count


def _carry_secrets(config: Any, masked: Any, fields: list[SecretField],
                   previous: ProfileVersion) -> tuple[Any, list[SecretField]]:
    """Where the new config holds exactly the previous version's mask of a secret (as `show`
    or GET printed it), that secret is kept as it was instead of saving the mask."""
    by_path = {f.path: f for f in fields}
    for old in previous.secrets:
        shown = ps.get_at(previous.config, old.path)
        if shown is not None and ps.get_at(config, old.path) == shown:
            by_path[old.path] = old
            masked = ps.set_at(masked, old.path, shown)
    return masked, list(by_path.values())


def read_export(doc: Any) -> dict[str, Any]:
    """The parts of an export document (ProfileInvalid says what is wrong with it):
    name, description, tags, metadata, config (masked) and `imported` for ProfileStore.save."""
    if not isinstance(doc, Mapping) or doc.get("format") != EXPORT_FORMAT:
        raise ProfileInvalid(f"not a lunge_mp profile export (no \"format\": \"{EXPORT_FORMAT}\")")
    if doc.get("formatVersion") != EXPORT_VERSION:
        raise ProfileInvalid(f"export formatVersion {doc.get('formatVersion')!r}; this lunge_mp reads "
                             f"{EXPORT_VERSION}")
    profile, config = doc.get("profile"), doc.get("config")
    if not isinstance(profile, Mapping) or not isinstance(config, Mapping):
        raise ProfileInvalid("an export needs \"profile\" and \"config\" objects")
    raw = doc.get("secrets") or []
    if not isinstance(raw, list):
        raise ProfileInvalid("\"secrets\" must be a list")
    fields = []
    for i, item in enumerate(raw):
        try:
            if not isinstance(item, Mapping):
                raise ValueError("not an object")
            f = SecretField(ps.path_from_json(item.get("path")), item.get("ciphertext"), item.get("keyId"))
            if f.ciphertext is not None and not isinstance(f.ciphertext, str) or \
                    f.key_id is not None and not isinstance(f.key_id, str):
                raise ValueError("ciphertext and keyId must be strings or null")
            if ps.get_at(config, f.path) is None:
                raise ValueError(f"{f.field} is not a field of the config")
        except ValueError as exc:
            raise ProfileInvalid(f"secrets[{i}]: {exc}") from None
        fields.append(f)
    created = {k: profile.get(k) for k in ("created_at", "created_by")}
    if not all(v is None or isinstance(v, str) for v in created.values()):
        raise ProfileInvalid("profile.created_at and created_by must be strings")
    return {"name": profile.get("name"), "description": profile.get("description", ""),
            "tags": profile.get("tags", []), "metadata": profile.get("metadata", {}),
            "config": dict(config),
            "imported": {"id": profile.get("id") if isinstance(profile.get("id"), str) else None,
                         **created, "secrets": fields}}
