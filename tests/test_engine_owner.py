"""The owner loop on its own: order, timers, Future completions posted back, guarded calls."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

from pwtui.engine.owner import Owner


def test_callables_run_in_order_on_the_owner_thread() -> None:
    owner = Owner()
    seen: list[tuple[int, threading.Thread]] = []
    for i in range(3):
        owner.call_soon_threadsafe(lambda i=i: seen.append((i, threading.current_thread())))
    owner.run_until_idle()
    assert [i for i, _ in seen] == [0, 1, 2]
    assert all(t is threading.current_thread() for _, t in seen)


def test_future_completions_come_back_to_the_owner() -> None:
    owner = Owner()
    fut: Future[int] = Future()
    got: list[tuple[int, threading.Thread]] = []
    owner.when_done(fut, lambda f: got.append((f.result(), threading.current_thread())))
    t = threading.Thread(target=fut.set_result, args=(7,))
    t.start()
    t.join()
    assert got == []  # not run on the completing thread
    owner.run_until_idle()
    assert got == [(7, threading.current_thread())]


def test_blocking_work_runs_on_a_worker_and_answers_on_the_owner() -> None:
    owner = Owner()
    got: list[tuple[str, bool]] = []
    owner.in_worker(
        lambda: threading.current_thread().name,
        lambda f: got.append((f.result(), threading.current_thread() is main)),
    )
    main = threading.current_thread()
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        owner.run_once(0.05)
    assert got and got[0][0].startswith("engine-call") and got[0][1]
    owner.close()


def test_timers_fire_in_time_order() -> None:
    owner = Owner()
    order: list[str] = []
    owner.call_later(0.10, lambda: order.append("late"))
    owner.call_later(0.02, lambda: order.append("early"))
    deadline = time.monotonic() + 2
    while len(order) < 2 and time.monotonic() < deadline:
        owner.run_once(0.05)
    assert order == ["early", "late"]


def test_a_raising_callable_is_reported_and_the_loop_goes_on() -> None:
    errors: list[tuple[str, BaseException]] = []
    owner = Owner(on_error=lambda name, exc: errors.append((name, exc)))
    ran: list[int] = []

    def boom() -> None:
        raise ValueError("broken service")

    owner.call_soon_threadsafe(boom, "svc.boom")
    owner.call_soon_threadsafe(lambda: ran.append(1))
    owner.run_until_idle()
    assert ran == [1]
    assert errors and errors[0][0] == "svc.boom" and "broken service" in str(errors[0][1])


def test_run_returns_soon_after_stop() -> None:
    owner = Owner()
    stop = threading.Event()
    t = threading.Thread(target=owner.run, args=(stop,))
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    stop.set()
    t.join(2)
    assert not t.is_alive() and time.monotonic() - t0 < 0.5


def test_a_flood_of_callables_starves_neither_timers_nor_a_stop() -> None:
    owner = Owner()
    ticks: list[float] = []

    def again() -> None:  # as replies that keep coming: each one queues the next
        owner.call_soon_threadsafe(again)

    owner.call_soon_threadsafe(again)
    owner.call_later(0.1, lambda: ticks.append(time.monotonic()))
    stop = threading.Event()
    t = threading.Thread(target=owner.run, args=(stop,), daemon=True)
    start = time.monotonic()
    t.start()
    threading.Timer(0.3, stop.set).start()
    t.join(2.0)
    assert not t.is_alive(), "the owner never saw the stop"
    assert ticks and ticks[0] - start < 0.3, "the timer waited for the queue to run dry"
