"""Errors the application raises beyond the domain's own refusals."""

from domain.errors import DomainError


class ConcurrencyConflict(DomainError):
    """Another change to the same aggregate won twice in a row; nothing was written."""

    code = "concurrency-conflict"


class PreconditionFailed(DomainError):
    """If-Match named a version the aggregate has moved on from; nothing was written."""

    code = "precondition-failed"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"the resource is at version {actual}, not {expected}; reload and retry")
        self.expected = expected
        self.actual = actual


class DemoAlreadyLoaded(Exception):
    pass
