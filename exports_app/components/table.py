"""A table of items: one header row of column headings, then one row per item."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx


def items_table(
    headings: Sequence[str],
    items: rx.Var[Any],
    row: Callable[[Any], rx.Component],
    more: Sequence[tuple[rx.Var[Any], Callable[[Any], rx.Component]]] = (),
    **props: Any,
) -> rx.Component:
    """The full-width table of items, row(item) rendering each, then each of `more`'s items after them (a list
    kept in several vars, see state/growing_list.py); props go to the table (variant, test id, ...)."""
    return rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(heading) for heading in headings))),
        rx.table.body(rx.foreach(items, row), *(rx.foreach(others, render) for others, render in more)),
        width="100%",
        **props,
    )
