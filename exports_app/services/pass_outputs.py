"""A pass's output joined to its production: its master merged into the production's, its renditions added.

A production of two passes is served from one master in the folder both passes' outputs share. The local fast pass
makes that folder, so its master is the production's as it is; every other pass's master (the local HD pass's,
beside it; each MediaConvert job's, in the job's folder) is merged with what the production already serves
(transcode/master_merge.py). The merged master is written where the production's is served from: replaced whole on
local disk (written beside, then renamed), or kept in the productions row for an output bucket the app never writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from exports_app.domain import Pass, utcnow
from exports_app.models import MediaJob, Production, Upload
from exports_app.services import storage
from exports_app.transcode.base import JobReport
from exports_app.transcode.factory import is_remote, read_output
from exports_app.transcode.ladder import choose_renditions, master_order
from exports_app.transcode.master_merge import PassMaster, merge_masters, relative_folder

NOT_MERGED = "The new renditions could not be added to the production's playlist."


class NotMerged(Exception):
    """A pass's master could not be merged into its production's (its job fails; nothing of it is served)."""


@dataclass(frozen=True)
class Merged:
    """What a pass's success changes of its production."""

    production_id: int
    master_uri: str  # where the production's master is served from
    makes_ready: bool  # the fast pass: only it gives the production a master to serve (an HD pass that ends first
    # on MediaConvert is merged, and served once the fast pass is too)
    text: str | None  # the merged master to store there; None when the pass's own master is the production's
    renditions: list[dict[str, Any]]
    poster_uri: str | None


def _renditions(stored: list[dict[str, Any]] | None, report: JobReport) -> list[dict[str, Any]]:
    """The production's renditions with the pass's added (a variant made again replaces its earlier entry)."""
    by_uri = {str(entry.get("uri")): entry for entry in stored or () if isinstance(entry, dict)}
    by_uri.update({r.uri: dataclasses.asdict(r) for r in report.renditions})
    return list(by_uri.values())


def _ladder_sizes(upload: Upload | None) -> list[tuple[int, int]]:
    """The export's ladder's sizes in the master's order, as the transcoders list a one-pass ladder."""
    rungs = choose_renditions(upload.width if upload else None, upload.height if upload else None)
    return [(rungs[i].width, rungs[i].height) for i in master_order(rungs)]


def merge(*, session: Session, report: JobReport, open_output: Callable[[str], bytes] | None = None) -> Merged:
    """The production's master and renditions once the pass `report` tells of has succeeded; NotMerged if its master
    cannot be read or does not belong beside the production's."""
    assert report.master_playlist_uri and report.production_master_uri
    production_id, pass_name = session.execute(
        sa.select(col(MediaJob.production_id), col(MediaJob.pass_name)).where(col(MediaJob.id) == report.media_job_id)
    ).one()
    production = session.get(Production, production_id)
    assert production is not None and production.id is not None
    makes_ready = pass_name != Pass.HD.value
    served, own = report.production_master_uri, report.master_playlist_uri
    renditions = _renditions(production.renditions, report)
    poster = production.poster_uri or report.poster_uri
    if own == served:
        return Merged(production.id, served, makes_ready, None, renditions, poster)
    read = open_output or read_output
    try:
        masters = [PassMaster(read(own).decode(), relative_folder(own, served))]
        current = production.master_playlist
        if current is None and not is_remote(served):
            try:
                current = read(served).decode()
            except FileNotFoundError:
                current = None
        if current is not None:
            masters.insert(0, PassMaster(current))
        text = merge_masters(masters, _ladder_sizes(session.get(Upload, production.upload_id)))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise NotMerged(NOT_MERGED) from exc
    return Merged(production.id, served, makes_ready, text, renditions, poster)


def store(*, session: Session, merged: Merged) -> None:
    """Give the production what a pass's success changed of it (the merged master first, where it is served)."""
    kept: str | None = None
    if merged.text is not None:
        if is_remote(merged.master_uri):
            kept = merged.text
        else:
            storage.write_bytes(merged.master_uri, merged.text.encode())
    values: dict[str, Any] = {
        "master_playlist": kept,
        "renditions": merged.renditions or None,
        "poster_uri": merged.poster_uri,
        "updated_at": utcnow(),
    }
    if merged.makes_ready:
        values["hls_master_uri"] = merged.master_uri
    session.execute(sa.update(Production).where(col(Production.id) == merged.production_id).values(**values))
