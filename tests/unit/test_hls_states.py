"""The one table of HLS states: it covers every state, keeps the contract's texts, and is what the UI and API read."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from exports_app.api.schemas import HlsStatusOut, PrepOut
from exports_app.hls_states import HLS_STATES, HlsState, PrepState
from exports_app.services.hls_status import HlsStatus
from exports_app.state.views import status_view

STATES = get_args(HlsState)


def test_the_table_has_a_row_for_every_state_and_no_other() -> None:
    assert set(HLS_STATES) == set(STATES) and len(STATES) == 4
    assert set(get_args(PrepState)) <= set(STATES)


def test_status_lines_and_badges_are_the_contracts() -> None:
    assert {state: (look.text, look.badge, look.badge_color) for state, look in HLS_STATES.items()} == {
        "not_ready": ("HLS: Not started", "Not started", "gray"),
        "in_progress": ("HLS: In progress\u2026", "In progress", "amber"),
        "ready": ("HLS: Ready", "Ready", "green"),
        "failed": ("HLS: Failed (Retry available)", "Failed", "red"),
    }


def test_what_the_buttons_allow() -> None:
    """Prep when nothing runs and nothing is ready (Retry once failed); Publish once ready; progress; preview."""
    allowed = {
        state: (look.prep_enabled, look.prep_label, look.publish_enabled, look.shows_progress, look.shows_preview)
        for state, look in HLS_STATES.items()
    }
    assert allowed == {
        "not_ready": (True, "Prep for Publish (HLS)", False, False, False),
        "in_progress": (False, "Prep for Publish (HLS)", False, True, False),
        "ready": (False, "Prep for Publish (HLS)", True, False, True),
        "failed": (True, "Retry Prep (HLS)", False, False, False),
    }


@pytest.mark.parametrize("state", STATES)
def test_each_status_is_viewed_through_the_table(state: HlsState) -> None:
    view = status_view(HlsStatus(state=state, production_id=3))
    assert (view.state, view.text, view.badge) == (state, HLS_STATES[state].text, HLS_STATES[state].badge)


def test_the_api_schema_names_the_same_states() -> None:
    status_schema = HlsStatusOut.model_json_schema(by_alias=True)["properties"]["state"]
    assert set(status_schema["enum"]) == set(STATES)
    assert all(look.text in status_schema["description"] for look in HLS_STATES.values())
    assert set(PrepOut.model_json_schema(by_alias=True)["properties"]["state"]["enum"]) == set(get_args(PrepState))


def test_the_badge_and_modal_read_the_table_not_state_names() -> None:
    """No component compares the state with a state's name: what a state allows is the table's row."""
    import reflex as rx

    from exports_app.components.modal import export_modal
    from exports_app.pages.exports import status_badge
    from exports_app.state.exports_live import ExportsLive

    rendered = str(export_modal()) + str(rx.foreach(ExportsLive.rows, status_badge))
    compared = re.findall(r'===\s*"(not_ready|in_progress|ready|failed)"', rendered)
    assert compared == []
    assert all(f'["prep_label"] : "{look.prep_label}"' in rendered for look in HLS_STATES.values())
