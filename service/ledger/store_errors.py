"""The exceptions that mean "the store is unavailable" rather than "the request is wrong"."""

from eventsourcing.persistence import InterfaceError, OperationalError
from psycopg import OperationalError as PsycopgOperationalError
from psycopg_pool import PoolTimeout

STORE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PsycopgOperationalError,
    PoolTimeout,
)
