"""/timeline: a read-only view of the member's video project and the exports rendered from it."""

from __future__ import annotations

import reflex as rx

from exports_app.db import session_scope
from exports_app.services import projects
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.state.auth import member_event
from exports_app.state.views import ExportRow, human_duration, human_size


class TimelineState(rx.State):
    """A read-only view of a video project and the exports rendered from it."""

    project_id: rx.Field[int] = rx.field(0)
    title: rx.Field[str] = rx.field("")
    description: rx.Field[str] = rx.field("")
    created: rx.Field[str] = rx.field("")
    exports: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    error: rx.Field[str] = rx.field("")

    @rx.event
    @member_event
    def load(self, member: Member) -> None:
        self.error, self.project_id, self.exports = "", 0, []
        wanted = self.router.url.query_parameters.get("project", "")
        try:
            with session_scope() as session:
                project = projects.owned_project(session, member, wanted)
                self.project_id = project.id or 0
                self.title, self.description = project.title, project.description
                self.created = project.created_at.strftime("%Y-%m-%d %H:%M UTC")
                self.exports = [ExportRow(id=u.id or 0, title=u.title, duration=human_duration(u.duration_seconds),
                                          size=human_size(u.size_bytes))
                                for u in projects.project_exports(session, project)]
        except ServiceError as exc:
            self.error = exc.message
