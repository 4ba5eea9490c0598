"""imgfilter for SQLAlchemy services (``pip install 'imgfilter[sqlalchemy]'``).

``metadata()`` is the reference schema as SQLAlchemy tables (for
``create_all`` or Alembic); ``Tables`` maps imgfilter's fields onto a
service's own tables or ORM classes; ``where``, ``order_by``, ``after`` and
``limit`` are the clauses a service adds to its own ``select()``; ``page``
runs a whole page on a ``Connection``, ``Session`` or ``Engine`` and returns
the same ``Page`` and ``QueryError``s as every other target.  The code lives
in ``imgfilter.targets.sqlalchemy``.  ``ExactText``, ``LongText`` and
``UtcTime`` are the reference schema's column types (byte-exact text, and
instants stored as imgfilter stores them), for a service's own models.
"""

from __future__ import annotations

from imgfilter.targets.sqlalchemy import (
    ExactText,
    LongText,
    Tables,
    UtcTime,
    after,
    engine_on,
    limit,
    metadata,
    order_by,
    page,
    reference,
    where,
)

__all__ = ["ExactText", "LongText", "Tables", "UtcTime", "after", "engine_on", "limit", "metadata", "order_by", "page",
           "reference", "where"]
