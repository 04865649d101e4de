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


class PriceChanged(PreconditionFailed):
    """A command confirmed with its preview's quote would issue other invoices than the
    preview showed (the day, a price or the contract moved); nothing was written."""

    code = "price-changed"

    def __init__(self) -> None:
        DomainError.__init__(
            self, "what this would invoice has changed since its preview; preview it again"
        )
        self.expected = self.actual = 0


class DemoAlreadyLoaded(Exception):
    pass
