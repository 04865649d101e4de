"""The auditor's view of an account: its history (who, role, when recorded, when in
effect, why, the request), filtered; the hash chain's status over it; the signed digest
and the verifiable account export to download.

The same functions as the API's: ``audit_rows`` (``/v1/accounts/{id}/history``),
``ChainVerifier`` (``/v1/audit/verify``), ``current_digest`` (``/v1/audit/digest``) and
``export_account`` (``subledger audit export``), behind the same access level (audit:
billing staff and auditors).
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from datetime import UTC, datetime, time
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from domain.errors import InvalidValue
from projections.audit_trail import AuditFilter, audit_rows
from projections.hash_chain import tip
from service.audit.digests import current_digest
from service.audit.export import export_account
from service.audit.verification import ChainVerifier
from service.http.access import Access
from service.http.reads import FreshReads, caught_up
from service.http.routes.audit_chain import get_signing_key
from service.reads.point_in_time import parse_effective
from service.web.account_view import account_context
from service.web.deps import SignedIn
from service.web.pages import NO_STORE, page
from service.web.refusals import Refusal, refusal_of

router = APIRouter()
HISTORY = "/accounts/{account_id}/history"
PAGE = 50


def _day_start(text: str) -> datetime | None:
    day = parse_effective(text) if text.strip() else None  # a bounded ISO date
    return datetime.combine(day, time.min, UTC) if day else None


@router.get(HISTORY, response_class=HTMLResponse)
def history_page(
    account_id: UUID,
    current: SignedIn,
    reads: FreshReads,
    actor: str = "",
    event_type: str = "",
    recorded_from: str = "",
    recorded_to: str = "",
    after: int = 0,
    verify: str = "",
) -> Response:
    """The account's history, a page at a time; ``verify`` recomputes the hash chain up
    to the account's last event shown (its cost grows with the log, so it is asked for)."""
    context = account_context(current, account_id, "history", Access.AUDIT)
    refusal: Refusal | None = None
    try:
        since = _day_start(recorded_from)
        until = _day_start(recorded_to)
    except InvalidValue as error:
        refusal, since, until = refusal_of(error), None, None
    where = AuditFilter(
        account_id,
        None,
        actor.strip()[:200] or None,
        event_type.strip()[:100] or None,
        since,
        until,
        max(after, 0),
    )
    caught_up(reads.side)
    with reads.sql() as sql:
        rows = audit_rows(sql, where, PAGE)
        sealed, _ = tip(sql)
    last = max((int(r["position"]) for r in rows), default=0)
    verification = None
    if verify:
        side = reads.side
        verification = ChainVerifier(side.ledger.recorder, side.readers).verify(0, sealed)
    filters = {
        "actor": actor,
        "event_type": event_type,
        "recorded_from": recorded_from,
        "recorded_to": recorded_to,
    }
    return page(
        current,
        "history.html",
        422 if refusal else 200,
        None,
        **context,
        rows=rows,
        filters=filters,
        next_after=last if len(rows) == PAGE else None,
        sealed=sealed,
        verification=verification,
        refusal=refusal,
    )


@router.get(HISTORY + "/digest.json")
def signed_digest(account_id: UUID, current: SignedIn, reads: FreshReads) -> Response:
    """The hash chain's digest at its sealed head, signed now (as ``/v1/audit/digest``)."""
    account_context(current, account_id, "history", Access.AUDIT)
    key = get_signing_key(current.request)
    body = json.dumps(current_digest(reads.side, key).as_json(), indent=2) + "\n"
    return Response(
        body,
        media_type="application/json",
        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="digest.json"'},
    )


@router.get(HISTORY + "/export.zip")
def account_export(account_id: UUID, current: SignedIn, reads: FreshReads) -> Response:
    """The verifiable export of the account's history (``subledger audit export``'s
    folder, zipped): its events, the links binding them to the signed digest, the key."""
    account_context(current, account_id, "history", Access.AUDIT)
    caught_up(reads.side)
    key = get_signing_key(current.request)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "export"
        export_account(reads.side, key, account_id, target)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(target.iterdir()):
                archive.write(file, f"account-{account_id}/{file.name}")
    name = f"account-{account_id}-export.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'},
    )
