"""The shape of a store's tables, to recognise a database made before migrations existed.

Such a database has its tables but no version table. It is stamped with the baseline only
when every baseline table it has matches the baseline: the same columns with the same kind of
type and nullability, the same primary key, unique constraints and indexes. The baseline's
shape is taken by running the baseline revision on an in-memory SQLite database, so the
revision itself is the reference, and types are compared by kind (text, integer, binary,
real), which lets the same reference serve a PostgreSQL schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, inspect
from sqlalchemy import types as sqltypes


@dataclass(frozen=True)
class TableShape:
    """What must match: columns (name -> kind, nullable), key, unique sets and indexes."""

    columns: tuple[tuple[str, str, bool], ...]
    primary_key: tuple[str, ...]
    unique: frozenset[tuple[str, ...]]
    indexes: frozenset[tuple[str, tuple[str, ...], bool]]


def _kind(column_type: sqltypes.TypeEngine[object]) -> str:
    for kind, generic in (("integer", sqltypes.Integer), ("binary", sqltypes._Binary),
                          ("real", sqltypes.Float), ("numeric", sqltypes.Numeric),
                          ("text", sqltypes.String)):
        if isinstance(column_type, generic):
            return kind
    return str(column_type).lower()


def shapes(conn: Connection, tables: set[str] | None = None) -> dict[str, TableShape]:
    """The shape of each table (of `tables` only, when given) in the connection's schema."""
    inspector = inspect(conn)
    found: dict[str, TableShape] = {}
    for table in inspector.get_table_names():
        if tables is not None and table not in tables:
            continue
        key = tuple(inspector.get_pk_constraint(table).get("constrained_columns") or ())
        columns = tuple(sorted(
            # SQLite lets a non-integer primary key column hold NULL unless told otherwise;
            # PostgreSQL never does: a key column counts as NOT NULL on both.
            (c["name"], _kind(c["type"]), bool(c["nullable"]) and c["name"] not in key)
            for c in inspector.get_columns(table)))
        unique = frozenset(tuple(u["column_names"]) for u in
                           inspector.get_unique_constraints(table))
        indexes = frozenset(
            (str(i["name"]), tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes(table) if not i.get("duplicates_constraint"))
        found[table] = TableShape(columns=columns, primary_key=key, unique=unique,
                                  indexes=indexes)
    return found


def differences(expected: dict[str, TableShape], actual: dict[str, TableShape]) -> list[str]:
    """How the tables present in `actual` differ from `expected` (missing tables are fine:
    the baseline creates them)."""
    found: list[str] = []
    for table in sorted(set(actual) & set(expected)):
        want, have = expected[table], actual[table]
        want_columns = {c[0]: c for c in want.columns}
        have_columns = {c[0]: c for c in have.columns}
        for name in sorted(set(want_columns) - set(have_columns)):
            found.append(f"{table}: column {name} is missing")
        for name in sorted(set(have_columns) - set(want_columns)):
            found.append(f"{table}: column {name} is not in the baseline")
        for name in sorted(set(want_columns) & set(have_columns)):
            _, kind, nullable = want_columns[name]
            _, has_kind, has_nullable = have_columns[name]
            if kind != has_kind:
                found.append(f"{table}.{name}: type {has_kind}, the baseline has {kind}")
            if nullable != has_nullable:
                found.append(f"{table}.{name}: {'' if has_nullable else 'NOT '}NULL, the "
                             f"baseline has {'' if nullable else 'NOT '}NULL")
        if want.primary_key != have.primary_key:
            found.append(f"{table}: primary key {have.primary_key}, the baseline has "
                         f"{want.primary_key}")
        if want.unique != have.unique:
            found.append(f"{table}: unique constraints {sorted(have.unique)}, the baseline has "
                         f"{sorted(want.unique)}")
        if want.indexes != have.indexes:
            found.append(f"{table}: indexes {sorted(have.indexes)}, the baseline has "
                         f"{sorted(want.indexes)}")
    return found
