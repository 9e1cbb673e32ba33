"""`decoded_in_order`: pieces decoded several at a time, results in order, bounded, failures as in a loop."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from parlance.services.piece_decoding import decoded_in_order
from parlance.settings import Settings


class Recorder:
    """A decode that sleeps a random while and records how many pieces run and are held at once."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.lock = threading.Lock()
        self.running = self.most_running = 0
        self.taken = self.given = self.most_held = 0
        self.threads: set[str] = set()
        self.finished: list[int] = []
        self.fail_at = fail_at
        self.rng = random.Random(5)

    def pieces(self, n: int) -> Iterator[int]:
        for i in range(n):
            with self.lock:
                self.taken += 1
                self.most_held = max(self.most_held, self.taken - self.given)
            yield i

    def decode(self, piece: int) -> int:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.threads.add(threading.current_thread().name)
            delay = self.rng.uniform(0, 0.02)
        time.sleep(delay)
        with self.lock:
            self.running -= 1
            self.finished.append(piece)
        if piece == self.fail_at:
            raise ValueError(f"piece {piece}")
        return piece * piece

    def consume(self, out: Iterator[tuple[int, int]]) -> list[tuple[int, int]]:
        got = []
        for pair in out:
            with self.lock:
                self.given += 1
            got.append(pair)
        return got


@pytest.mark.parametrize(("batch_size", "workers"), [(4, 2), (3, 8), (8, 3), (2, 2)])
def test_results_in_order_with_bounded_work_in_flight(batch_size: int, workers: int) -> None:
    rec = Recorder()
    got = rec.consume(decoded_in_order(rec.pieces(40), rec.decode, batch_size=batch_size, workers=workers))
    assert got == [(i, i * i) for i in range(40)]
    assert rec.finished != sorted(rec.finished)  # they did finish out of order: the order is restored
    assert rec.most_running == min(batch_size, workers)
    assert rec.most_held <= batch_size
    assert all(name.startswith("piece") for name in rec.threads)


@pytest.mark.parametrize(("batch_size", "workers"), [(1, 2), (4, 1)])
def test_batch_size_or_workers_1_is_the_plain_loop_on_the_callers_thread(batch_size: int, workers: int) -> None:
    rec = Recorder()
    got = rec.consume(decoded_in_order(rec.pieces(10), rec.decode, batch_size=batch_size, workers=workers))
    assert got == [(i, i * i) for i in range(10)]
    assert rec.threads == {threading.current_thread().name}
    assert rec.finished == list(range(10)) and rec.most_held == 1


def test_a_failure_is_raised_in_order_and_nothing_runs_afterwards() -> None:
    rec = Recorder(fail_at=7)
    got: list[tuple[int, int]] = []
    with pytest.raises(ValueError, match="piece 7"):
        for pair in decoded_in_order(rec.pieces(100), rec.decode, batch_size=4, workers=2):
            got.append(pair)
    assert got == [(i, i * i) for i in range(7)]  # everything before the failing piece, as a loop gives
    finished = len(rec.finished)
    assert rec.running == 0 and finished <= 7 + 4  # at most a batch beyond the failure was started
    time.sleep(0.1)
    assert len(rec.finished) == finished  # and nothing after the call returned


def test_a_failure_of_the_pieces_themselves_waits_for_the_running_decodes() -> None:
    rec = Recorder()

    def pieces() -> Iterator[int]:
        yield from rec.pieces(5)
        raise RuntimeError("audio ended badly")

    with pytest.raises(RuntimeError, match="audio ended badly"):
        rec.consume(decoded_in_order(pieces(), rec.decode, batch_size=8, workers=2))
    assert rec.running == 0


def test_a_caller_that_stops_early_leaves_nothing_running() -> None:
    rec = Recorder()
    out = decoded_in_order(rec.pieces(100), rec.decode, batch_size=6, workers=3)
    assert next(out) == (0, 0)
    out.close()
    finished = len(rec.finished)
    time.sleep(0.1)
    assert rec.running == 0 and len(rec.finished) == finished <= 7


def test_decode_batch_size_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().decode_batch_size == 4
    monkeypatch.setenv("PARLANCE_DECODE_BATCH_SIZE", "1")
    assert Settings().decode_batch_size == 1  # sequential stays available
    for bad in ("0", "-2", "65", "two"):
        monkeypatch.setenv("PARLANCE_DECODE_BATCH_SIZE", bad)
        with pytest.raises(ValidationError, match="decode_batch_size"):
            Settings()
