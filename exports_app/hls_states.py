"""The four HLS states of an export and what each one shows and allows: the one table the API, views and modal read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

HlsState = Literal["not_ready", "in_progress", "ready", "failed"]
# What Prep answers: it starts a job (in progress) or finds the production ready; never not_ready or failed.
PrepState = Literal["in_progress", "ready"]
PREP_STATES: tuple[PrepState, ...] = get_args(PrepState)
# The states by name: the app's code says these, never the words themselves (tests/unit/test_state_words.py).
NOT_READY: Final = "not_ready"
IN_PROGRESS: Final = "in_progress"
READY: Final = "ready"
FAILED: Final = "failed"
# The states in which a prep has ended: a change into one from IN_PROGRESS is told to the member (a toast).
ENDED_STATES: tuple[HlsState, ...] = (READY, FAILED)

PREP_LABEL = "Prep for Publish (HLS)"
RETRY_LABEL = "Retry Prep (HLS)"


@dataclass(frozen=True)
class StateLook:
    """What one state shows (the modal's status line, the row's badge) and what the modal's buttons allow."""

    text: str  # the modal's status line: a fixed contract (docs/ui.md), tests and clients match it exactly
    badge: str  # the /exports row's badge
    badge_color: str  # the badge's Radix color scheme
    prep_enabled: bool  # Prep starts a job only when none is running and the export is not ready
    prep_label: str
    publish_enabled: bool  # /publish takes ready productions only
    shows_progress: bool  # the transcoder's percent and phase
    shows_preview: bool  # the HLS player


# One row per state; the columns are StateLook's fields in order: text, badge, badge_color, prep_enabled,
# prep_label, publish_enabled, shows_progress, shows_preview.
HLS_STATES: dict[HlsState, StateLook] = {
    NOT_READY: StateLook("HLS: Not started", "Not started", "gray", True, PREP_LABEL, False, False, False),
    IN_PROGRESS: StateLook("HLS: In progress\u2026", "In progress", "amber", False, PREP_LABEL, False, True, False),
    READY: StateLook("HLS: Ready", "Ready", "green", False, PREP_LABEL, True, False, True),
    FAILED: StateLook("HLS: Failed (Retry available)", "Failed", "red", True, RETRY_LABEL, False, False, False),
}


def states_described() -> str:
    """Each state with its status line, for the API's documentation of the `state` field."""
    return "; ".join(f"{state}: {look.text}" for state, look in HLS_STATES.items())
