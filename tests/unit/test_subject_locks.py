import threading
from uuid import UUID, uuid4

from service.ledger.subject_locks import SubjectLocks


def test_one_subject_is_held_by_one_thread_at_a_time() -> None:
    locks = SubjectLocks()
    subject = uuid4()
    inside: list[int] = []
    overlapped: list[bool] = []

    def command() -> None:
        for _ in range(200):
            with locks.holding(subject):
                inside.append(1)
                overlapped.append(len(inside) > 1)
                inside.pop()

    threads = [threading.Thread(target=command) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(overlapped) == 800 and not any(overlapped)


def test_a_command_inside_a_command_takes_no_second_lock() -> None:
    # Two threads, each inside a command and calling another on the other's subject,
    # would deadlock if the inner command took its lock.
    locks = SubjectLocks(stripes=2)
    a, b = UUID(int=0), UUID(int=1)  # on different stripes
    both_inside = threading.Barrier(2, timeout=5)
    done: list[bool] = []

    def command(outer: UUID, inner: UUID) -> None:
        with locks.holding(outer):
            both_inside.wait()
            with locks.holding(inner):
                done.append(True)

    threads = [
        threading.Thread(target=command, args=pair, daemon=True) for pair in ((a, b), (b, a))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert done == [True, True]


def test_another_subject_does_not_wait() -> None:
    locks = SubjectLocks(stripes=2)
    held, other = UUID(int=0), UUID(int=1)
    entered = threading.Event()

    def elsewhere() -> None:
        with locks.holding(other):
            entered.set()

    with locks.holding(held):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        assert entered.wait(timeout=5)
    thread.join()
