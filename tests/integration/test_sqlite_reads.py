"""The SQLite recorders read an aggregate's events in one statement (adapters/sqlite_factory.py):
the same events as the library's reads, in every shape, and its errors."""

from itertools import product
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder

from adapters.sqlite_factory import Factory, LedgerApplicationRecorder


@pytest.fixture
def recorder(tmp_path):
    factory = Factory({"SQLITE_DBNAME": str(tmp_path / "ledger.db")})
    recorder = factory.application_recorder()
    assert isinstance(recorder, LedgerApplicationRecorder)
    yield recorder
    factory.close()


def test_every_shape_of_read_finds_what_the_librarys_finds(recorder):
    ids = [uuid4(), uuid4()]
    recorder.insert_events(
        [
            StoredEvent(i, v, f"topic-{v}", f"state {i} {v}".encode())
            for i in ids
            for v in range(1, 8)
        ]
    )
    for aggregate_id, gt, lte, desc, limit in product(
        ids, (None, 2), (None, 6), (False, True), (None, 3)
    ):
        ours = recorder.select_events(aggregate_id, gt=gt, lte=lte, desc=desc, limit=limit)
        theirs = SQLiteAggregateRecorder.select_events(
            recorder, aggregate_id, gt=gt, lte=lte, desc=desc, limit=limit
        )
        assert ours == theirs
        assert ours and all(e.originator_id == aggregate_id for e in ours)
    assert recorder.select_events(uuid4()) == []


def test_a_failed_read_raises_the_librarys_error(recorder):
    recorder.events_table_name, recorder._selects = "no_such_table", None
    with pytest.raises(OperationalError):
        recorder.select_events(uuid4())
