"""Verifying that a database holds an imgfilter catalog whose string columns
compare as the spec says (byte-exact, code-point order, no padding)."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

from imgfilter.db.connect import NO_CATALOG, Connection, DatabaseError, dialect_of, transaction
from imgfilter.db.dialects import Dialect
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema
from imgfilter.front import params as P

# verified (connection, Schema) pairs: weakly per connection; sqlite3 connections
# cannot be weakly referenced, so the last few are held (and compared by identity)
_VERIFIED: weakref.WeakKeyDictionary[Any, set[Schema]] = weakref.WeakKeyDictionary()
_VERIFIED_HELD: OrderedDict[int, tuple[Any, set[Schema]]] = OrderedDict()
_HELD = 16


def verified(conn: Connection) -> set[Schema]:
    try:
        return _VERIFIED.setdefault(conn, set())
    except TypeError:
        held = _VERIFIED_HELD.get(id(conn))
        if held is None or held[0] is not conn:
            held = _VERIFIED_HELD[id(conn)] = (conn, set())
            while len(_VERIFIED_HELD) > _HELD:
                _VERIFIED_HELD.popitem(last=False)
        _VERIFIED_HELD.move_to_end(id(conn))
        return held[1]


def _compared_columns(schema: Schema) -> dict[str, dict[str, bool | None]]:
    """Per table, the columns a page reads: True for a string column compared by
    order, False for one compared only for equality, None for the others."""
    images: dict[str, bool | None] = {schema.record: None}
    for f in P.FIELDS_LIST:
        text = f.type in (P.FieldType.TEXT, P.FieldType.ID)
        images[schema.column(f.name)] = (f.name in P.SORT_KEYS) if text else None
    out = {schema.images: images}
    for kind, cols in schema.side_columns().items():
        # the image's id is compared by order (keyset pages join on it), the others for equality
        wanted: dict[str, bool | None] = {c: False for c in cols}
        wanted[schema.image_of(kind)] = True
        if kind == "properties":
            wanted[schema.property_is_true] = None
        out[schema.side_table(kind)] = wanted
    return out


def verify_catalog(conn: Connection, schema: Schema = DEFAULT_SCHEMA, *, dialect: Dialect | None = None,
                   cursor: Any = None) -> None:
    """Check that the database holds an imgfilter catalog whose string columns
    compare as the spec says (byte-exact, code-point order, no padding): raise
    ``DatabaseError`` naming the table, the column and the fix.  ``run`` does this
    once per connection and ``Schema``; call it again after altering the tables."""
    d = dialect or dialect_of(conn)
    if cursor is None:
        with transaction(conn, d, d.read_begin) as cur:
            verify_catalog(conn, schema, dialect=d, cursor=cur)
        return
    for table, wanted in _compared_columns(schema).items():
        facts = d.string_columns(cursor, table, wanted)
        if not facts:
            missing = "" if table == schema.images else f" (table {table} is missing)"
            raise DatabaseError(f"no imgfilter catalog in {d.describe(conn)}{missing}: {NO_CATALOG}")
        for col, ordered in wanted.items():
            if col not in facts:
                raise DatabaseError(f"table {table} has no column {col}: not an imgfilter catalog (a service's "
                                    f"own names are given with a Schema)")
            typ, collation, deterministic = facts[col]
            exact = typ in d.binary_types or (typ in d.text_types and (
                collation in d.exact_collations or (ordered is False and deterministic)))
            if ordered is not None and not exact:
                raise DatabaseError(
                    f"column {table}.{col} ({typ} {collation}) does not compare strings byte by byte (case, "
                    f"trailing spaces, code-point order), which filters and scope rely on: {d.collation_fix}")
    verified(conn).add(schema)


