"""One logging set-up for every process: structlog renders every record, ours and the
libraries' (uvicorn's, the standard ``logging`` of ``subledger.*``), to stderr.

JSON, one object per line, by default; for people (structlog's console renderer) when
stderr is a terminal, or as ``SUBLEDGER_LOG_FORMAT`` says. uvicorn is handed the same
configuration (``logging_config``), so its workers log the same way.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any, TextIO

import structlog

from service.config.settings import Settings


def _without_colour_copies(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    event.pop("color_message", None)  # uvicorn's copy of its message, with ANSI colours
    return event


# What every record carries, structlog's own or a standard library one.
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _without_colour_copies,
]


class StderrHandler(logging.StreamHandler):
    """A handler on whatever ``sys.stderr`` is when a record is written (tests replace it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def renders_for_people(settings: Settings) -> bool:
    if settings.log_format == "auto":
        return sys.stderr.isatty()
    return settings.log_format == "console"


def formatter(console: bool) -> structlog.stdlib.ProcessorFormatter:
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def logging_config(settings: Settings) -> dict[str, Any]:
    """The standard library's configuration (``dictConfig``), also uvicorn's ``log_config``."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {"()": formatter, "console": renders_for_people(settings)},
        },
        "handlers": {"stderr": {"()": StderrHandler, "formatter": "structlog"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's own handlers would print plain text: its records go to the root's
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            # the request log (service/http/middleware.py) says more, once per request
            "uvicorn.access": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library through the one renderer."""
    logging.config.dictConfig(logging_config(settings))
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
