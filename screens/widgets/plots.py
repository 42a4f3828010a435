"""The log browser's charts, drawn with textual-plotext.

Time runs along x at true spacing (a missing hour is a gap, not a squeezed bar);
consumption goes up and production down on one shared kWh scale; the power
line breaks where samples are missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

from pwtui.queries import Bucket

from ..log_periods import Period, label_moment, ticks, x_of, x_range

USED, PRODUCED, POWER = "cyan", "green", "magenta"


def bar_positions(period: Period, buckets: Sequence[Bucket]) -> tuple[list[float], float]:
    """Centre of each bucket's bar on the x axis and the bars' width: a missing bucket leaves a gap."""
    # a bucket is one x unit wide, except an hour bucket in the hour view (60 minutes)
    span = 60.0 if period.zoom == "hour" else 1.0
    if period.zoom == "year":
        return [label_moment(b.label).month - 0.5 for b in buckets], span
    return [x_of(period, label_moment(b.label).timestamp()) + span / 2 for b in buckets], span


def runs(series: Sequence[tuple[int, float]], step: int) -> list[list[tuple[int, float]]]:
    """The samples split where more than two steps are missing, so the line breaks there."""
    out: list[list[tuple[int, float]]] = []
    for ts, w in series:
        if out and ts - out[-1][-1][0] <= 2 * step:
            out[-1].append((ts, w))
        else:
            out.append([(ts, w)])
    return out


class EnergyPlot(PlotextPlot):
    """kWh per bucket: used above zero, produced below, one scale, a legend."""

    def show(self, period: Period, buckets: Sequence[Bucket]) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.theme("clear")
        lo, hi = x_range(period)
        xs, span = bar_positions(period, buckets)
        used = [b.consumption_wh / 1000 for b in buckets]
        produced = [-b.production_wh / 1000 for b in buckets]
        if any(used):
            plt.bar(xs, used, color=USED, label="used", width=0.8 * span)
        if any(produced):
            plt.bar(xs, produced, color=PRODUCED, label="produced", width=0.8 * span)
        if not buckets:
            plt.title("no energy logged in this period")
        top = max([*used, 0.0])
        bottom = min([*produced, 0.0])
        if top == bottom:
            top = 1.0
        plt.ylim(bottom, top)
        plt.xlim(lo, hi)
        plt.xticks(*ticks(period))
        plt.ylabel(f"kWh per {period.bucket}")
        self.refresh()


class PowerPlot(PlotextPlot):
    """Power in W over the period; a gap in the samples is a gap in the line."""

    def show(self, period: Period, series: Sequence[tuple[int, float]], step: int, label: str) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.theme("clear")
        for i, run in enumerate(runs(series, step)):
            xs = [x_of(period, ts + step / 2) for ts, _ in run]
            ys = [w for _, w in run]
            if len(run) == 1:
                plt.scatter(xs, ys, color=POWER, label=label if i == 0 else "", marker="dot")
            else:
                plt.plot(xs, ys, color=POWER, label=label if i == 0 else "")
        if not series:
            plt.title("no power samples in this period")
        values = [w for _, w in series]
        top, bottom = max([*values, 0.0]), min([*values, 0.0])
        plt.ylim(bottom, top if top > bottom else 1.0)
        plt.xlim(*x_range(period))
        plt.xticks(*ticks(period))
        plt.ylabel("W")
        self.refresh()
