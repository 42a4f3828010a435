"""The log browser shows what the store holds; the CSV export equals it; queries aggregate in SQLite."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.app import App

from pwtui import queries
from pwtui.store import DB_NAME, Interval, Store
from screens.log_browser import LogBrowserScreen, export_text, period_at

A, B = "000D6F0001000001", "000D6F0001000006"


@pytest.fixture(autouse=True)
def amsterdam(monkeypatch):
    for var in ("NO_COLOR", "TEXTUAL_THEME", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TZ", "Europe/Amsterdam")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fill(path: Path) -> None:
    st = Store(path)
    start = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
    with st.batch():
        ivs = []
        for h in range(24 * 40):
            end = start + (h + 1) * 3600
            ivs.append(Interval(A, end - 3600, end, 10.0 + h % 24, False))
            ivs.append(Interval(B, end - 3600, end, 1.0, False))
            ivs.append(Interval(B, end - 3600, end, float(max(0, 12 - abs(12 - (h % 24)))) * 50, True))
        st.add_intervals(ivs)
        st.add_power((A, start + 86400 * 10 + i * 10, 100.0 + i % 7) for i in range(8640))
    st.close()


async def until(pilot, cond, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def csv_rows(text: str) -> list[dict[str, str]]:
    """The CSV under the leading `#` note."""
    assert text.startswith("# ") and "UTC" in text.splitlines()[0]
    return list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))


class Host(App):
    def __init__(self, path: Path, mac: str | None, now: datetime) -> None:
        super().__init__()
        self.args = (path, mac, now)

    def on_mount(self) -> None:
        path, mac, now = self.args
        self.push_screen(LogBrowserScreen(path, circles=[(A, "fridge"), (B, "solar")], mac=mac, now=now))


def test_day_view_matches_store_and_export(tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    fill(db)
    day = datetime(2026, 6, 11, 12, 0).astimezone()

    async def go() -> None:
        app = Host(db, A, day)
        async with app.run_test(size=(110, 40)) as pilot:
            scr = app.screen
            assert isinstance(scr, LogBrowserScreen)
            await until(pilot, lambda: scr.loaded >= 1)
            p = scr.period
            st = Store(db, readonly=True)
            want = st.energy_between(A, int(p.start.timestamp()), int(p.end.timestamp()))
            shown = sum(b.consumption_wh for b in scr.buckets)
            assert shown == pytest.approx(want) and len(scr.buckets) == 24
            table = scr.query_one("#log_table")
            assert table.row_count == 24
            assert (
                str(table.get_cell(scr.buckets[5].label, "used"))
                == f"{scr.buckets[5].consumption_wh / 1000:.3f}"
            )
            text, n = export_text(db, p, [A], {A: "fridge"})
            rows = csv_rows(text)
            assert n == 24 and len(rows) == 24
            assert sum(float(r["wh"]) for r in rows) == pytest.approx(want, abs=0.01)
            assert list(rows[0]) == ["mac", "name", "start", "end", "wh", "watts", "production"]
            assert rows[0]["start"].endswith("Z") and rows[0]["name"] == "fridge"
            await pilot.press("e")
            await until(pilot, lambda: scr.exported is not None)
            exported = list(tmp_path.glob("export-*.csv"))
            assert exported == [scr.exported] and exported[0].read_text() == text
            # production apart, all circles together, zoom out to the month
            await pilot.press("tab")
            await pilot.press("minus", "minus")
            assert scr.period.zoom == "month" and scr.choices[scr.choice][0] == B
            await until(pilot, lambda: len(scr.buckets) == 30)
            prod = sum(b.production_wh for b in scr.buckets)
            assert prod == pytest.approx(
                st.energy_between(B, int(scr.period.start.timestamp()), int(scr.period.end.timestamp()), True)
            )
            await pilot.press("left")
            assert scr.period.start.month == 5

    asyncio.run(go())


def test_queries_bucket_in_local_time(tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    fill(db)
    con = queries.connect(db)
    p = period_at("day", datetime(2026, 6, 2, 12).astimezone())
    hours = queries.energy_buckets(con, int(p.start.timestamp()), int(p.end.timestamp()), "hour", [A])
    assert [b.label[-5:] for b in hours][:2] == ["00:00", "01:00"]
    # local 00:00-01:00 is 22:00-23:00 UTC: that interval's energy is 10 + 22
    assert hours[0].consumption_wh == pytest.approx(32.0)
    series = queries.power_series(
        con,
        int(datetime(2026, 6, 11, tzinfo=UTC).timestamp()),
        int(datetime(2026, 6, 12, tzinfo=UTC).timestamp()),
        100,
        [A],
    )
    assert 90 <= len(series) <= 101 and all(100 <= w <= 106 for _, w in series)
    plan = " ".join(
        r[3]
        for r in con.execute(
            "EXPLAIN QUERY PLAN SELECT SUM(wh) FROM energy WHERE end_ts > 1 AND end_ts <= 2"
        ).fetchall()
    )
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan or "PRIMARY KEY" in plan


def test_year_zoom_goes_to_the_month_under_the_cursor_and_avg_w_is_the_total(tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    fill(db)

    async def go() -> None:
        app = Host(db, None, datetime(2026, 6, 11, 12, 0).astimezone())
        async with app.run_test(size=(100, 30)) as pilot:
            scr = app.screen
            await until(pilot, lambda: scr.loaded >= 1)
            # all circles: A uses 10+h W-hours each hour and B 1, so the average power is the sum
            b = scr.buckets[5]
            assert b.watts == pytest.approx(b.consumption_wh)  # one hour: Wh == average W
            assert b.consumption_wh > 11.0
            await pilot.press("minus", "minus", "minus")
            assert scr.period.zoom == "year"
            await until(pilot, lambda: [b.label for b in scr.buckets] == ["2026-06", "2026-07"])
            table = scr.query_one("#log_table")
            table.move_cursor(row=1)
            await pilot.press("plus")
            assert scr.period.zoom == "month" and scr.period.start.month == 7

    asyncio.run(go())


def test_browser_opened_during_the_first_history_read_fills_in(tmp_path: Path) -> None:
    """Opened before any history is stored, the browser shows the read's progress and then the data."""
    from protocol import virtual
    from pwtui.config import load_config
    from screens.app import PwtuiApp

    # 20 days of history at a quarter of the capture's delays: the read takes seconds, and the
    # month view grows while it goes on (today's blocks, read first, may be in at the first load)
    url = "sim://?circles=2&seed=5&latency=20&history=20"
    virtual.forget(url)
    mac = virtual.circle_mac(1)
    (tmp_path / "pwtui.toml").write_text(
        f'[stick]\nport = "{url}"\ntimeout = 2.0\n[logging]\npower_interval = 1\n'
        f'[[circle]]\nmac = "{mac}"\nname = "lamp"\n'
    )
    cfg = load_config(tmp_path / "pwtui.toml")

    async def go() -> None:
        app = PwtuiApp(cfg)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("l")
            scr = app.screen
            assert isinstance(scr, LogBrowserScreen)
            await until(pilot, lambda: scr.loaded >= 1)
            loads = scr.loaded
            await pilot.press("minus", "minus")
            await until(pilot, lambda: scr.period.zoom == "month" and scr.loaded > loads)
            first = sum(b.consumption_wh for b in scr.buckets)
            title = scr.query_one("#log_title")
            seen_progress = False

            def filled() -> bool:
                nonlocal seen_progress
                seen_progress = seen_progress or "reading history:" in str(title.render())
                return sum(b.consumption_wh for b in scr.buckets) > first + 1.0

            await until(pilot, filled, timeout=60)
            assert seen_progress, "the history read's progress was never shown"

    asyncio.run(go())


def test_charts_keep_true_time_spacing_and_break_at_gaps() -> None:
    """A missing hour is a gap on the x axis, the DST day has 25 hours, the power line breaks."""
    from screens.widgets.plots import bar_positions, runs

    day = period_at("day", datetime(2026, 6, 11, 12).astimezone())
    buckets = [queries.Bucket(f"2026-06-11 {h:02d}:00", 1.0, 0.0, 3600) for h in (0, 1, 5)]
    xs, width = bar_positions(day, buckets)
    assert xs == [0.5, 1.5, 5.5] and width == 1.0
    autumn = period_at("day", datetime(2026, 10, 25, 12).astimezone())  # clocks go back: 25 hours
    late = [queries.Bucket("2026-10-25 23:00", 1.0, 0.0, 3600)]
    assert bar_positions(autumn, late)[0] == [24.5]
    year = period_at("year", datetime(2026, 6, 11).astimezone())
    assert bar_positions(year, [queries.Bucket("2026-03", 1.0, 0.0, 1)])[0] == [2.5]
    series = [(0, 1.0), (10, 2.0), (20, 3.0), (300, 4.0), (310, 5.0)]
    assert [len(r) for r in runs(series, 10)] == [3, 2]


def test_footer_offers_only_what_works(tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    fill(db)

    async def go() -> None:
        app = Host(db, A, datetime(2026, 6, 11, 12, 0).astimezone())
        async with app.run_test(size=(100, 30)) as pilot:
            scr = app.screen
            await until(pilot, lambda: scr.loaded >= 1)

            def offered() -> set[str]:
                return {b.binding.action for b in scr.active_bindings.values() if b.enabled}

            assert {"zoom(-1)", "zoom(1)", "export"} <= offered()
            await pilot.press("plus")  # hour view: nothing to zoom in to
            await until(pilot, lambda: scr.loaded >= 2)
            assert "zoom(-1)" not in offered() and "zoom(1)" in offered()
            await pilot.press("g")
            app.screen.query_one("#answer").value = "2020-01-01"
            await pilot.press("enter")
            await until(pilot, lambda: scr.loaded >= 3)
            assert scr.buckets == [] and "export" not in offered()

    asyncio.run(go())


def test_a_late_answer_for_a_view_already_left_is_dropped(tmp_path: Path, monkeypatch) -> None:
    """The first day's query is held back until the next day is shown; its answer must not win."""
    import threading

    db = tmp_path / DB_NAME
    fill(db)
    release = threading.Event()
    real = queries.energy_buckets
    held: list[int] = []

    threads: set[str] = set()

    def slow_first(con, start_ts, end_ts, bucket, macs=None):
        threads.add(threading.current_thread().name)
        if not held:
            held.append(start_ts)
            release.wait(10)
        return real(con, start_ts, end_ts, bucket, macs)

    monkeypatch.setattr(queries, "energy_buckets", slow_first)

    async def go() -> None:
        app = Host(db, A, datetime(2026, 6, 11, 12, 0).astimezone())
        async with app.run_test(size=(100, 30)) as pilot:
            scr = app.screen
            await until(pilot, lambda: bool(held))
            await pilot.press("left")  # 10 June, answered at once
            await until(pilot, lambda: scr.loaded >= 1)
            assert scr.buckets[0].label.startswith("2026-06-10")
            release.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert scr.loaded == 1 and scr.buckets[0].label.startswith("2026-06-10")
            assert threading.main_thread().name not in threads  # never on the UI thread

    asyncio.run(go())


def test_export_follows_the_umask(tmp_path: Path) -> None:
    import os

    from pwtui.export import save_file

    old = os.umask(0o022)
    try:
        save_file(tmp_path / "a.csv", "x\n")
        os.umask(0o077)
        save_file(tmp_path / "b.csv", "x\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_chart_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    db = tmp_path / DB_NAME
    fill(db)
    app = Host(db, B, datetime(2026, 6, 11, 12, 0).astimezone())

    async def ready(pilot) -> None:
        await until(pilot, lambda: app.screen.loaded >= 1)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)
