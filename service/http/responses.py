"""Headers every response carries: the resource version (ETag) and the log position."""

from __future__ import annotations

from fastapi import Response

from service.ledger.application import Ledger, Receipt


def versioned(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def written(response: Response, receipt: Receipt, ledger: Ledger) -> None:
    """After a command: the subject's new ETag and the position of the command's last event
    (for a command that changed nothing, the log head: reads at it see the same state)."""
    versioned(response, receipt.version)
    position = receipt.position if receipt.position is not None else ledger.head_position()
    response.headers["Ledger-Position"] = str(position)
    if receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"
