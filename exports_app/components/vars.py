"""Typed forms of the Reflex calls mypy cannot type from Reflex's own annotations."""

from __future__ import annotations

from typing import cast

import reflex as rx
from reflex_components_lucide.icon import Icon

# rx.icon: mypy resolves that name to reflex_components_lucide's `icon` submodule, which the package's
# `icon = Icon.create` shadows at run time.
icon = Icon.create


def cond_str(condition: rx.Var[bool], if_true: str, if_false: str) -> rx.Var[str]:
    """rx.cond between two strings: the Var of one of them (a label, a color, an icon name)."""
    # mypy sees only rx.cond's Component overloads: the TypeVars declared between its overloads end the group.
    return cast(rx.Var[str], rx.cond(condition, if_true, if_false))  # type: ignore[call-overload]
