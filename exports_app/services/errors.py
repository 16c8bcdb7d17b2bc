"""Errors the services raise; API routes and states map them to responses and messages."""


class ServiceError(Exception):
    """A refusal with a short message fit to show to the member."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignedOut(ServiceError):
    """No live session: unknown, expired or revoked."""


class NotFound(ServiceError):
    """Missing, deleted, not of the right kind, or another member's: callers never learn which."""


class Invalid(ServiceError):
    """The input cannot be used (e.g. a file that is not a decodable video)."""


class Conflict(ServiceError):
    """The thing exists but is not in a state that allows the action (e.g. publish before ready)."""


class LimitReached(ServiceError):
    """The member has as many of something as a member may have (services/quotas.py).

    retry_after: seconds until the count frees up by itself (a count over a time window); None when only the
    member's own deletes free one.
    """

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
