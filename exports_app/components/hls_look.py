"""The HLS state table (exports_app/hls_states.py) in the browser: the row of a state Var, for the badge and modal."""

from __future__ import annotations

from typing import cast

import reflex as rx
from reflex.vars import ObjectVar

from exports_app.hls_states import HLS_STATES, StateLook

# The table as one constant of the page's script, so a status pushed to the tabs carries its state only.
_TABLE = cast(ObjectVar[dict[str, StateLook]], rx.Var.create(HLS_STATES))


def look_of(state: rx.Var[str]) -> ObjectVar[StateLook]:
    """HLS_STATES[state] as a Var: what that state shows and what the modal's buttons allow."""
    return cast(ObjectVar[StateLook], _TABLE[state])
