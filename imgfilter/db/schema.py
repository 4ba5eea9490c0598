"""The reference schema, and the mapping a service uses for its own names.

``images`` has one typed column per field of the parameter table plus the
original record as JSON; ``image_tags``, ``image_members`` and
``image_properties`` hold tags, memberships and the other scalar fields.  A
service with its own table and column names passes a ``Schema`` naming them;
identifiers come only from here, and are checked to be plain SQL names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from imgfilter.db.dialects import DIALECTS, Dialect
from imgfilter.front import params as P

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# the side tables' own columns: no column of images may take one of these names
SIDE_COLUMNS = {
    "tags": ("image_id", "tag_key", "tag_value"),
    "members": ("image_id", "member_id", "status"),
    "properties": ("image_id", "name", "value", "is_true"),
}
_RESERVED = {c for cols in SIDE_COLUMNS.values() for c in cols} - {f.column for f in P.FIELDS_LIST}
# index names fit every engine's identifier limit (PostgreSQL 63, MySQL 64)
MAX_INDEX_NAME = min(d.max_identifier for d in DIALECTS.values())


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
        # names compare case-insensitively on MySQL (columns, and tables on some systems)
        _distinct("column of images", [(f"field {f.name}", self.column(f.name)) for f in P.FIELDS_LIST]
                  + [("the record", self.record)])
        for f in P.FIELDS_LIST:
            if self.column(f.name).lower() in _RESERVED:
                raise ValueError(f"column {self.column(f.name)!r} (field {f.name}) is a side table's column "
                                 f"name ({', '.join(sorted(_RESERVED))}): choose another")
        if self.record.lower() in _RESERVED:
            raise ValueError(f"record column {self.record!r} is a side table's column name: choose another")
        _distinct("table or index name", [("table images", self.images), ("table tags", self.tags),
                                          ("table members", self.members), ("table properties", self.properties)]
                  + [(f"index on {table}", name) for name, table, _ in self.indexes()])

    def column(self, field_name: str) -> str:
        return self.columns.get(field_name) or P.FIELDS[field_name].column

    def indexes(self) -> list[tuple[str, str, list[str]]]:
        """(name, table, columns) of each index: keyset pages walk (sort column,
        id); tags, members and properties are probed per image (their primary
        keys) or looked up by key, member or name, so that a rare tag or flag can
        drive the plan."""
        id_col = self.column("id")
        out = [(index_name(f"{self.images}_{self.column(key)}_id"), self.images, [self.column(key), id_col])
               for key in P.SORT_KEYS if key != "id"]
        out.append((index_name(f"{self.tags}_kv"), self.tags, ["tag_key", "tag_value", "image_id"]))
        out.append((index_name(f"{self.members}_m"), self.members, ["member_id", "status", "image_id"]))
        out.append((index_name(f"{self.properties}_n"), self.properties, ["name", "is_true", "image_id"]))
        return out


def index_name(name: str) -> str:
    """``name``, or when too long for some engine, its head and a hash of the whole
    (distinct names stay distinct: engines would truncate them into one)."""
    if len(name) <= MAX_INDEX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:MAX_INDEX_NAME - 11]}_{digest}"


def _distinct(what: str, names: list[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for owner, name in names:
        if name.lower() in seen:
            raise ValueError(f"{what} {name!r} is used twice: by {seen[name.lower()]} and by {owner}")
        seen[name.lower()] = owner


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
    out.extend(_index(dialect, name, table, cols) for name, table, cols in schema.indexes())
    return out


def _index(dialect: Dialect, name: str, table: str, cols: list[str]) -> str:
    q = dialect.ident
    cols_sql = ", ".join(q(c) for c in cols)
    if not dialect.index_if_not_exists:  # the loader tolerates the dialect's duplicate_index_error
        return f"CREATE INDEX {q(name)} ON {q(table)} ({cols_sql})"
    return f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(table)} ({cols_sql})"
