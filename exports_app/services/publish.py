"""Spaces and publishing: a member's spaces, a ready production published to them once per space."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from exports_app.config import get_settings
from exports_app.domain import Pass, utcnow
from exports_app.hls_states import HLS_STATES, IN_PROGRESS
from exports_app.models import Production, Publication, Space, Upload
from exports_app.services import quotas
from exports_app.services.auth import Member
from exports_app.services.errors import Conflict, Invalid, LimitReached, NotFound
from exports_app.services.exports import valid_id
from exports_app.services.hls_status import HdPass, HlsStatus
from exports_app.services.media_jobs import stored_renditions
from exports_app.services.productions import load_production_status, owned_production
from exports_app.transcode.base import Rendition
from exports_app.transcode.ladder import Rung, choose_renditions, pass_rungs


@dataclass(frozen=True)
class SpaceChoice:
    id: int
    name: str
    published: bool


@dataclass(frozen=True)
class PublishTarget:
    """What /publish shows: the production, its export's title, and the member's spaces."""

    production_id: int
    export_title: str
    hls_url: str
    spaces: list[SpaceChoice]
    # The ladder's distinct sizes as a member reads them, largest first: "1080×1920" (portrait shows as portrait),
    # or "720p" for renditions stored before their widths were; empty when not known.
    rendition_sizes: list[str] = dataclasses.field(default_factory=list)
    # The sizes the production's HD pass is still making while it runs, largest first; empty otherwise.
    coming_sizes: list[str] = dataclasses.field(default_factory=list)


def rendition_size(rendition: Rendition | Rung) -> str:
    """ "1920×1080", "1080×1920"; "720p" when only the height is known."""
    return f"{rendition.width}×{rendition.height}" if rendition.width else f"{rendition.height}p"


def coming_sizes(*, width: int | None, height: int | None, stored: list[str], hd: HdPass | None) -> list[str]:
    """While a production's HD pass runs: the sizes of the HD rungs of the ladder of its source (width x height) that
    it does not have yet, largest first. Nothing once the HD pass ended (its rungs are in, or it failed) or for one
    pass."""
    if hd is None or hd.state != IN_PROGRESS:
        return []
    rungs = pass_rungs(choose_renditions(width, height), Pass.HD)
    return [size for size in (rendition_size(rung) for _, rung in rungs) if size not in stored]


def _ready_production(session: Session, member: Member, production_id: object) -> tuple[Production, HlsStatus]:
    """The member's production and its (ready) status, derived once; Conflict while it is not ready."""
    production = owned_production(session=session, member=member, production_id=production_id)
    assert production.id is not None
    status = load_production_status(session=session, production_id=production.id)
    if not HLS_STATES[status.state].publish_enabled:
        raise Conflict("This production is not ready to publish yet.")
    return production, status


SPACE_NAME_MAX = 128


def count_spaces(*, session: Session, member: Member) -> int:
    counted = sa.select(sa.func.count()).select_from(Space).where(col(Space.user_id) == member.id)
    return int(session.execute(counted).scalar_one())


def create_space(*, session: Session, member: Member, name: str) -> Space:
    """A new space of the member's; Invalid for a blank name, LimitReached at EXPORTS_MAX_SPACES_PER_MEMBER."""
    cleaned = " ".join(str(name).split())[:SPACE_NAME_MAX]
    if not cleaned:
        raise Invalid("Give the space a name.")
    quotas.lock_member(session=session, member_id=member.id)  # concurrent creates count one after another
    cap = get_settings().max_spaces_per_member
    if count_spaces(session=session, member=member) >= cap:
        raise LimitReached(quotas.at_most(cap, "space"))
    space = Space(user_id=member.id, name=cleaned)
    session.add(space)
    session.flush()
    return space


@dataclass(frozen=True)
class PublishedItem:
    production_id: int
    title: str
    published_at: datetime


@dataclass(frozen=True)
class SpaceView:
    """What /space shows: a space of the member's and what is published there, newest first."""

    id: int
    name: str
    items: list[PublishedItem]


def space_view(*, session: Session, member: Member, space_id: object) -> SpaceView:
    """The member's space with its publications; NotFound for anything else."""
    sid = valid_id(space_id)
    space = session.get(Space, sid) if sid is not None else None
    if space is None or space.user_id != member.id or space.id is None:
        raise NotFound("Space not found.")
    rows = session.exec(
        select(Publication, Upload.title)
        .join(Production, col(Production.id) == col(Publication.production_id))
        .join(Upload, col(Upload.id) == col(Production.upload_id))
        .where(col(Publication.space_id) == space.id)
        .order_by(col(Publication.created_at).desc(), col(Publication.id).desc())
    )
    return SpaceView(space.id, space.name, [PublishedItem(p.production_id, title, p.created_at) for p, title in rows])


def publish_target(*, session: Session, member: Member, production_id: object) -> PublishTarget:
    production, status = _ready_production(session, member, production_id)
    assert production.id is not None
    upload = session.get(Upload, production.upload_id)
    published = set(session.exec(select(Publication.space_id).where(Publication.production_id == production.id)))
    spaces = session.exec(select(Space).where(Space.user_id == member.id).order_by(Space.name))
    ladder = sorted(
        stored_renditions(production), key=lambda r: (r.width * r.height or r.height, r.bandwidth), reverse=True
    )
    sizes = list(dict.fromkeys(rendition_size(r) for r in ladder))
    coming = coming_sizes(width=upload.width, height=upload.height, stored=sizes, hd=status.hd) if upload else []
    return PublishTarget(
        production_id=production.id,
        export_title=upload.title if upload else f"Production {production.id}",
        hls_url=status.hls_url or "",
        spaces=[SpaceChoice(s.id, s.name, s.id in published) for s in spaces if s.id is not None],
        rendition_sizes=sizes,
        coming_sizes=coming,
    )


def publish(*, session: Session, member: Member, production_id: object, space_ids: Iterable[object]) -> int:
    """Publish to the chosen spaces of the member; returns how many publications are new."""
    production, _ = _ready_production(session, member, production_id)
    assert production.id is not None
    wanted = {sid for sid in (valid_id(s) for s in space_ids) if sid is not None}
    if not wanted:
        raise NotFound("Choose at least one of your spaces.")
    owned = set(session.exec(select(Space.id).where(Space.user_id == member.id, col(Space.id).in_(wanted))))
    if owned != wanted:
        raise NotFound("Space not found.")
    existing = set(session.exec(select(Publication.space_id).where(Publication.production_id == production.id)))
    new = sorted(wanted - existing)  # wanted equals owned here, and is typed int (a model's id is Optional)
    for space_id in new:
        session.add(Publication(production_id=production.id, space_id=space_id, user_id=member.id, created_at=utcnow()))
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # A concurrent publish won the unique (production, space) race: that publication exists.
        session.rollback()
        return 0
    return len(new)
