"""The state of a page showing what its query names (components/layout.query_page): the member's thing, or why not."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from exports_app.db import session_scope
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.state.auth import member_event


class QueryPageState(rx.State, mixin=True):
    """On load, the page's fields show what its query parameter names, looked up for the member; or `error`.

    A page's state names its parameter in `query_parameter` and fills its fields in `_show`, whose ServiceError
    (not found, not the member's) becomes the one-line refusal.
    """

    query_parameter: ClassVar[str]
    error: rx.Field[str] = rx.field("")

    @rx.event
    @member_event
    def load(self, member: Member) -> None:
        self.reset()  # type: ignore[no-untyped-call]  # nothing shown before stays, whatever this query names
        try:
            with session_scope() as session:
                self._show(session, member, self.router.url.query_parameters.get(self.query_parameter, ""))
        except ServiceError as exc:
            self.error = exc.message

    def _show(self, session: Session, member: Member, wanted: str) -> None:
        """Fill the page's fields with what wanted names, if it is the member's (else raise a ServiceError)."""
        raise NotImplementedError
