"""Errors the application raises beyond the domain's own refusals."""

from domain.errors import DomainError


class ConcurrencyConflict(DomainError):
    """Another change to the same aggregate won twice in a row; nothing was written."""

    code = "concurrency-conflict"


class DemoAlreadyLoaded(Exception):
    pass
