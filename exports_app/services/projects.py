"""Video projects (timelines) of a member, read-only here."""

from __future__ import annotations

from sqlmodel import Session, col, select

from exports_app.models import Upload, VideoProject
from exports_app.services import queries
from exports_app.services.auth import Member
from exports_app.services.errors import NotFound
from exports_app.services.exports import valid_id


def owned_project(*, session: Session, member: Member, project_id: object) -> VideoProject:
    pid = valid_id(project_id)
    project = session.get(VideoProject, pid) if pid is not None else None
    if project is None or project.user_id != member.id:
        raise NotFound("Project not found.")
    return project


def create_project(*, session: Session, member: Member, title: str, description: str = "") -> VideoProject:
    project = VideoProject(user_id=member.id, title=title, description=description)
    session.add(project)
    session.flush()
    return project


def project_exports(*, session: Session, project: VideoProject) -> list[Upload]:
    """The live exports rendered from project, newest first."""
    return list(
        session.exec(
            select(Upload)
            .where(
                Upload.create_video_project_id == project.id,
                queries.live_export(),
            )
            .order_by(col(Upload.created_at).desc())
        )
    )
