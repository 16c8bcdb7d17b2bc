"""/timeline: a read-only view of the member's video project and the exports rendered from it."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from exports_app.routes import PROJECT_PARAM
from exports_app.services import projects
from exports_app.services.auth import Member
from exports_app.state.query_page import QueryPageState
from exports_app.state.views import ExportRow, human_duration, human_size


class TimelineState(QueryPageState, rx.State):
    """A read-only view of a video project and the exports rendered from it."""

    query_parameter: ClassVar[str] = PROJECT_PARAM
    project_id: rx.Field[int] = rx.field(0)
    title: rx.Field[str] = rx.field("")
    description: rx.Field[str] = rx.field("")
    created: rx.Field[str] = rx.field("")
    exports: rx.Field[list[ExportRow]] = rx.field(default_factory=list)

    def _show(self, session: Session, member: Member, wanted: str) -> None:
        project = projects.owned_project(session=session, member=member, project_id=wanted)
        self.project_id = project.id or 0
        self.title, self.description = project.title, project.description
        self.created = project.created_at.strftime("%Y-%m-%d %H:%M UTC")
        self.exports = [
            ExportRow(
                id=u.id or 0, title=u.title, duration=human_duration(u.duration_seconds), size=human_size(u.size_bytes)
            )
            for u in projects.project_exports(session=session, project=project)
        ]
