"""The reference schema, and the mapping a service uses for its own names.

``images`` has one typed column per field of the parameter table plus the
original record as JSON; ``image_tags``, ``image_members`` and
``image_properties`` hold tags, memberships and the other scalar fields.  A
service with its own table and column names passes a ``Schema`` naming them;
identifiers come only from here, and are checked to be plain SQL names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import params as P
from .dialects import Dialect

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _check_ident(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63)")
    return name


@dataclass(frozen=True, slots=True)
class Schema:
    """Table and column names.  ``columns`` overrides the column of a record
    field (by field name, e.g. ``{"name": "image_name"}``)."""

    images: str = "images"
    tags: str = "image_tags"
    members: str = "image_members"
    properties: str = "image_properties"
    record: str = "record"  # the original record as JSON text
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        for name in (self.images, self.tags, self.members, self.properties, self.record):
            _check_ident(name)
        unknown = set(self.columns) - set(P.FIELDS)
        if unknown:
            raise ValueError(f"no such record field(s): {', '.join(sorted(unknown))}")
        for col in self.columns.values():
            _check_ident(col)
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))

    def column(self, field_name: str) -> str:
        return self.columns.get(field_name) or P.FIELDS[field_name].column


DEFAULT_SCHEMA = Schema()


def create_statements(dialect: Dialect, schema: Schema = DEFAULT_SCHEMA) -> list[str]:
    """``CREATE TABLE`` / ``CREATE INDEX`` statements (idempotent)."""
    q = dialect.ident
    idt = dialect.types[P.FieldType.ID]
    cols = [f"{q(schema.column('id'))} {idt} NOT NULL PRIMARY KEY"]
    for f in P.FIELDS_LIST:
        if f.name != "id":
            cols.append(f"{q(schema.column(f.name))} {dialect.types[f.type]}")
    cols.append(f"{q(schema.record)} {dialect.long_text} NOT NULL")
    sfx = dialect.table_suffix
    out = [
        f"CREATE TABLE IF NOT EXISTS {q(schema.images)} ({', '.join(cols)}){sfx}",
        f"CREATE TABLE IF NOT EXISTS {q(schema.tags)} (image_id {idt} NOT NULL, tag_key {dialect.key_text} "
        f"NOT NULL, tag_value {dialect.key_text} NOT NULL, PRIMARY KEY (image_id, tag_key, tag_value)){sfx}",
        f"CREATE TABLE IF NOT EXISTS {q(schema.members)} (image_id {idt} NOT NULL, member_id "
        f"{dialect.key_text} NOT NULL, status {dialect.key_text} NOT NULL, "
        f"PRIMARY KEY (image_id, member_id)){sfx}",
        f"CREATE TABLE IF NOT EXISTS {q(schema.properties)} (image_id {idt} NOT NULL, name "
        f"{dialect.key_text} NOT NULL, value {dialect.long_text} NOT NULL, is_true BOOLEAN NOT NULL, "
        f"PRIMARY KEY (image_id, name)){sfx}",
    ]
    # keyset pages walk (sort column, id); tags and members are probed per image
    id_col = schema.column("id")
    for key in P.SORT_KEYS:
        if key != "id":
            col = schema.column(key)
            out.append(_index(dialect, f"{schema.images}_{col}_id", schema.images, [col, id_col]))
    out.append(_index(dialect, f"{schema.tags}_kv", schema.tags, ["tag_key", "tag_value", "image_id"]))
    out.append(_index(dialect, f"{schema.members}_m", schema.members, ["member_id", "status", "image_id"]))
    return out


def _index(dialect: Dialect, name: str, table: str, cols: list[str]) -> str:
    q = dialect.ident
    cols_sql = ", ".join(q(c) for c in cols)
    if dialect.name == "mysql":  # no IF NOT EXISTS for indexes on MySQL 8: the loader tolerates 1061
        return f"CREATE INDEX {q(name)} ON {q(table)} ({cols_sql})"
    return f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(table)} ({cols_sql})"
