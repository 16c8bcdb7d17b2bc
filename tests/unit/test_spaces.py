"""Spaces: made by name (never blank), published to once, and shown with their publications to their owner only."""

from __future__ import annotations

import pytest

from exports_app.db import session_scope
from exports_app.services import publish
from exports_app.services.auth import Member
from exports_app.services.errors import Invalid, NotFound
from exports_app.transcode.base import Rendition
from tests.support.records import ready_production

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_a_space_needs_a_name(alice: Member, blank: str) -> None:
    with session_scope() as s, pytest.raises(Invalid, match="Give the space a name."):
        publish.create_space(session=s, member=alice, name=blank)


def test_a_new_space_can_be_published_to_and_lists_what_is_there(alice: Member, bob: Member) -> None:
    production_id = ready_production(alice, "Launch teaser")
    with session_scope() as s:
        target = publish.publish_target(session=s, member=alice, production_id=production_id)
        assert (target.spaces, target.rendition_sizes) == ([], [])  # no renditions reported: none shown
        space = publish.create_space(session=s, member=alice, name="  My   channel ")
        assert space.name == "My channel"
    with session_scope() as s:
        assert publish.publish(session=s, member=alice, production_id=production_id, space_ids=[space.id]) == 1
        (choice,) = publish.publish_target(session=s, member=alice, production_id=production_id).spaces
        assert (choice.name, choice.published) == ("My channel", True)
        view = publish.space_view(session=s, member=alice, space_id=space.id)
        assert (view.name, [(i.production_id, i.title) for i in view.items]) == (
            "My channel",
            [(production_id, "Launch teaser")],
        )
        with pytest.raises(NotFound):
            publish.space_view(session=s, member=bob, space_id=space.id)  # someone else's
        for malformed in ("abc", 0):
            with pytest.raises(NotFound):
                publish.space_view(session=s, member=alice, space_id=malformed)


def test_the_publish_target_names_an_old_ladders_heights_highest_first(alice: Member, bob: Member) -> None:
    ladder = tuple(
        Rendition(f"hls/v{i}/index.m3u8", height, bandwidth)
        for i, (height, bandwidth) in enumerate(
            [(480, 1_528_000), (1080, 5_128_000), (720, 2_928_000), (720, 1_928_000)]
        )
    )
    production_id = ready_production(alice, "Ladder", ladder)
    with session_scope() as s:
        target = publish.publish_target(session=s, member=alice, production_id=production_id)
        assert target.rendition_sizes == ["1080p", "720p", "480p"]  # stored before widths were
        with pytest.raises(NotFound):  # nor anything of it for someone else
            publish.publish_target(session=s, member=bob, production_id=production_id)


def test_the_publish_target_names_portrait_sizes_as_portrait(alice: Member) -> None:
    ladder = (
        Rendition("hls/v0/index.m3u8", 640, 858_000, 360, 30.0),
        Rendition("hls/v1/index.m3u8", 1920, 5_128_000, 1080, 30.0),
        Rendition("hls/v2/index.m3u8", 416, 209_000, 234, 30.0),
    )
    production_id = ready_production(alice, "Phone video", ladder)
    with session_scope() as s:
        target = publish.publish_target(session=s, member=alice, production_id=production_id)
    assert target.rendition_sizes == ["1080×1920", "360×640", "234×416"]
