"""How a database plans a statement: EXPLAIN on SQLite, MariaDB/MySQL or PostgreSQL, told as one line per table read.

The tests that hold a query to its indexes and bench/bench_status_plans read the plans through this, so the three
dialects' EXPLAIN formats are parsed in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

How = Literal["key", "index", "scan"]


@dataclass(frozen=True)
class TableRead:
    """One table (by its name or alias in the statement) as the plan reads it.

    how: "key" — a lookup on the primary key or a unique index (at most one row); "index" — a lookup or range
    on another index (rows that may grow with the table); "scan" — every row, or every entry of an index.
    """

    table: str
    how: How
    index: str | None

    def __str__(self) -> str:
        return f"{self.table}: {self.how}" + (f" ({self.index})" if self.index else "")


def explain(connection: sa.Connection, statement: sa.Executable, params: Mapping[str, Any]) -> list[TableRead]:
    """The plan of statement with params, in the order the database lists the reads."""
    sql, args = _driver_sql(connection, statement, params)
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return _sqlite(connection, sql, args)
    if dialect == "postgresql":
        return _postgresql(connection, sql, args)
    if dialect in ("mysql", "mariadb"):
        return _mysql(connection, sql, args)
    raise ValueError(f"no EXPLAIN reader for {dialect}")


def summary(reads: list[TableRead]) -> str:
    """One line: each table and how it is read."""
    return "; ".join(str(read) for read in reads)


def _driver_sql(
    connection: sa.Connection, statement: sa.Executable, params: Mapping[str, Any]
) -> tuple[str, tuple[Any, ...] | dict[str, Any]]:
    """The statement as the driver receives it: its SQL and its parameters, through the types' bind processors."""
    compiled = statement.compile(dialect=connection.dialect)  # type: ignore[attr-defined]  # Executable is wider
    values = compiled.construct_params(dict(params))
    processors = compiled._bind_processors
    processed = {name: processors[name](value) if name in processors else value for name, value in values.items()}
    if compiled.positiontup is not None:
        return str(compiled), tuple(processed[name] for name in compiled.positiontup)
    return str(compiled), processed


_SQLITE_READ = re.compile(
    r"^(?P<op>SEARCH|SCAN) (?P<table>\w+)(?: USING (?:(?P<pk>INTEGER PRIMARY KEY)|(?:COVERING )?INDEX (?P<index>\w+)))?"
)


def _sqlite(connection: sa.Connection, sql: str, args: Any) -> list[TableRead]:
    reads = []
    for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, args):
        found = _SQLITE_READ.match(row[3])
        if found is None:  # e.g. "CORRELATED SCALAR SUBQUERY 1", a heading of the reads below it
            continue
        table, index = found["table"], found["index"]
        if found["op"] == "SCAN":
            reads.append(TableRead(table, "scan", index))
        elif found["pk"]:
            reads.append(TableRead(table, "key", "PRIMARY KEY"))
        else:
            assert index is not None
            listed = connection.exec_driver_sql(f"PRAGMA index_list({_table_of(sql, table)})")
            unique = {r[1]: bool(r[2]) for r in listed}  # (seq, name, unique, origin, partial)
            reads.append(TableRead(table, "key" if unique.get(index) else "index", index))
    return reads


def _table_of(sql: str, name: str) -> str:
    """The table behind an alias of the statement (`media_jobs AS newer` → media_jobs), or the name itself."""
    found = re.search(rf"\b(\w+) AS {re.escape(name)}\b", sql)
    return found[1] if found else name


def _postgresql(connection: sa.Connection, sql: str, args: Any) -> list[TableRead]:
    (document,) = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, args).scalar_one()
    reads = []
    for node in _nodes(document["Plan"], "Plans"):
        if "Relation Name" not in node:
            continue
        table, kind = node["Alias"], node["Node Type"]
        if kind == "Seq Scan":
            reads.append(TableRead(table, "scan", None))
            continue
        index = node.get("Index Name") or next(
            (child["Index Name"] for child in _nodes(node, "Plans") if "Index Name" in child), None
        )
        unique = connection.exec_driver_sql(
            "SELECT indisunique FROM pg_index WHERE indexrelid = %(index)s::regclass", {"index": index}
        ).scalar_one()
        reads.append(TableRead(table, "key" if unique else "index", index))
    return reads


def _mysql(connection: sa.Connection, sql: str, args: Any) -> list[TableRead]:
    document = json.loads(connection.exec_driver_sql("EXPLAIN FORMAT=JSON " + sql, args).scalar_one())
    reads = []
    for node in _nodes(document, None):
        table = node.get("table")
        if not isinstance(table, dict) or "table_name" not in table:
            continue
        access, index = table.get("access_type"), table.get("key")
        # const and eq_ref: one row through a unique key; ALL and index: every row, or every entry of an index.
        how: How = "key" if access in ("const", "eq_ref", "system") else "index"
        if access in ("ALL", "index"):
            how = "scan"
        reads.append(TableRead(table["table_name"], how, index))
    return reads


def _nodes(node: Any, children: str | None) -> Iterator[dict[str, Any]]:
    """Every dict in a plan document, depth first (children: the one key that holds sub-plans, or None for any)."""
    if isinstance(node, dict):
        yield node
        values = node.get(children, []) if children else list(node.values())
        for value in values:
            yield from _nodes(value, children)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item, children)
