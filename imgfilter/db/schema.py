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
# the side tables' own columns, by table, as Schema field names (in the order
# of each table's columns: the image's id first), and their default names
SIDE_FIELDS = {
    "tags": ("tag_image", "tag_key", "tag_value"),
    "members": ("member_image", "member_id", "member_status"),
    "properties": ("property_image", "property_name", "property_value", "property_is_true"),
}
SIDE_COLUMNS = {
    "tags": ("image_id", "tag_key", "tag_value"),
    "members": ("image_id", "member_id", "status"),
    "properties": ("image_id", "name", "value", "is_true"),
}
_FIELD_COLUMNS = {f.column for f in P.FIELDS_LIST}
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
    # the side tables' columns (SIDE_FIELDS): no column of images may take one of these names
    tag_image: str = "image_id"
    tag_key: str = "tag_key"
    tag_value: str = "tag_value"
    member_image: str = "image_id"
    member_id: str = "member_id"
    member_status: str = "status"
    property_image: str = "image_id"
    property_name: str = "name"
    property_value: str = "value"
    property_is_true: str = "is_true"
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        for name in (self.images, self.tags, self.members, self.properties, self.record):
            _check_ident(name)
        for kind, cols in self.side_columns().items():
            for col in cols:
                _check_ident(col)
            _distinct(f"column of {kind}", list(zip(SIDE_FIELDS[kind], cols, strict=True)))
        unknown = set(self.columns) - set(P.FIELDS)
        if unknown:
            raise ValueError(f"no such record field(s): {', '.join(sorted(unknown))}")
        for col in self.columns.values():
            _check_ident(col)
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        # names compare case-insensitively on MySQL (columns, and tables on some systems)
        _distinct("column of images", [(f"field {f.name}", self.column(f.name)) for f in P.FIELDS_LIST]
                  + [("the record", self.record)])
        reserved = {c.lower() for cols in self.side_columns().values() for c in cols} - _FIELD_COLUMNS
        for f in P.FIELDS_LIST:
            if self.column(f.name).lower() in reserved:
                raise ValueError(f"column {self.column(f.name)!r} (field {f.name}) is a side table's column "
                                 f"name ({', '.join(sorted(reserved))}): choose another")
        if self.record.lower() in reserved:
            raise ValueError(f"record column {self.record!r} is a side table's column name: choose another")
        _distinct("table or index name", [("table images", self.images), ("table tags", self.tags),
                                          ("table members", self.members), ("table properties", self.properties)]
                  + [(f"index on {table}", name) for name, table, _ in self.indexes()])

    def column(self, field_name: str) -> str:
        return self.columns.get(field_name) or P.FIELDS[field_name].column

    def side_table(self, kind: str) -> str:
        """The name of the side table ``kind`` (tags, members or properties)."""
        return {"tags": self.tags, "members": self.members, "properties": self.properties}[kind]

    def side_columns(self) -> dict[str, tuple[str, ...]]:
        """Per side table kind, its columns' names in ``SIDE_FIELDS`` order."""
        return {kind: tuple(getattr(self, f) for f in fields) for kind, fields in SIDE_FIELDS.items()}

    def image_of(self, kind: str) -> str:
        """The column of the side table ``kind`` holding the image's id."""
        return str(getattr(self, SIDE_FIELDS[kind][0]))

    def indexes(self) -> list[tuple[str, str, list[str]]]:
        """(name, table, columns) of each index: keyset pages walk (sort column,
        id); tags, members and properties are probed per image (their primary
        keys) or looked up by key, member or name, so that a rare tag or flag can
        drive the plan."""
        id_col = self.column("id")
        out = [(index_name(f"{self.images}_{self.column(key)}_id"), self.images, [self.column(key), id_col])
               for key in P.SORT_KEYS if key != "id"]
        out.append((index_name(f"{self.tags}_kv"), self.tags, [self.tag_key, self.tag_value, self.tag_image]))
        out.append((index_name(f"{self.members}_m"), self.members,
                    [self.member_id, self.member_status, self.member_image]))
        out.append((index_name(f"{self.properties}_n"), self.properties,
                    [self.property_name, self.property_is_true, self.property_image]))
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
    """``CREATE TABLE`` / ``CREATE INDEX`` statements (idempotent): the tables'
    (``table_statements``) then the secondary indexes' (``index_statements``)."""
    return table_statements(dialect, schema) + index_statements(dialect, schema)


def table_statements(dialect: Dialect, schema: Schema = DEFAULT_SCHEMA) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` of images and the side tables (primary keys only)."""
    q = dialect.ident
    idt = dialect.types[P.FieldType.ID]
    cols = [f"{q(schema.column('id'))} {idt} NOT NULL PRIMARY KEY"]
    for f in P.FIELDS_LIST:
        if f.name != "id":
            cols.append(f"{q(schema.column(f.name))} {dialect.types[f.type]}")
    cols.append(f"{q(schema.record)} {dialect.long_text} NOT NULL")
    sfx = dialect.table_suffix
    s = schema

    def side(table: str, columns: list[tuple[str, str]], key: list[str]) -> str:
        cols_sql = ", ".join(f"{q(c)} {typ} NOT NULL" for c, typ in columns)
        return (f"CREATE TABLE IF NOT EXISTS {q(table)} ({cols_sql}, "
                f"PRIMARY KEY ({', '.join(q(c) for c in key)})){sfx}")

    key, long = dialect.key_text, dialect.long_text
    out = [
        f"CREATE TABLE IF NOT EXISTS {q(schema.images)} ({', '.join(cols)}){sfx}",
        side(s.tags, [(s.tag_image, idt), (s.tag_key, key), (s.tag_value, key)],
             [s.tag_image, s.tag_key, s.tag_value]),
        side(s.members, [(s.member_image, idt), (s.member_id, key), (s.member_status, key)],
             [s.member_image, s.member_id]),
        side(s.properties, [(s.property_image, idt), (s.property_name, key), (s.property_value, long),
                            (s.property_is_true, "BOOLEAN")], [s.property_image, s.property_name]),
    ]
    return out


def index_statements(dialect: Dialect, schema: Schema = DEFAULT_SCHEMA) -> list[str]:
    """``CREATE INDEX`` of each secondary index (``IF NOT EXISTS`` where the engine has it)."""
    return [_index(dialect, name, table, cols) for name, table, cols in schema.indexes()]


def _index(dialect: Dialect, name: str, table: str, cols: list[str]) -> str:
    q = dialect.ident
    cols_sql = ", ".join(q(c) for c in cols)
    if not dialect.index_if_not_exists:  # the loader tolerates the dialect's duplicate_index_error
        return f"CREATE INDEX {q(name)} ON {q(table)} ({cols_sql})"
    return f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(table)} ({cols_sql})"
