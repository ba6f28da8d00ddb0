"""The benchmark plots are drawn readable and honest from the stored results."""

import json

import matplotlib.pyplot as plt
import pytest

from benchmarks import plots
from scripts.devserver import ROOT

RESULTS = ROOT / "benchmarks" / "results" / "results.json"


def _run(clients, rate, p50, p99):
    return {
        "clients": clients,
        "cycles": int(rate * 8),
        "seconds": 8.0,
        "cycles_per_s": rate,
        "cycle": {"n": 10, "median_ms": p50, "p95_ms": p99 * 0.9, "p99_ms": p99},
        "errors": 0,
        "server_cpu_ms_per_cycle": 30.0,
        "cpu_vs_inprocess": 5.0,
    }


def synthetic():
    """Results in the shape the throughput and history sections write (issue 24)."""
    clients = (1, 10, 100, 300)
    variants = {
        key: [_run(c, r, 40 * c**0.5, 90 * c**0.5) for c, r in zip(clients, rates, strict=True)]
        for key, rates in (("wake", (20, 22, 21, 19)), ("stock", (0.5, 15, 14, 13)))
    }
    levels = [
        {
            "decided": decided,
            "cycle": {"n": 20, "median_ms": 40.0 + i, "p95_ms": 60.0, "p99_ms": 70.0 + i},
            "throughput": [_run(10, 20.0 - i, 400, 700), _run(100, 19.0 - i, 4000, 7000)],
        }
        for i, decided in enumerate((0, 10_000, 50_000))
    ]
    return {
        "throughput": {
            "graph": "expense_approval",
            "inprocess": {"median_ms": 6.0},
            "variants": variants,
            "target_no_collapse": 0.9,
        },
        "history": {"pending": 1_000, "levels": levels},
        "runtime": {
            "levels": [
                {"held": held, "stock_us": stock, "indexed_us": 650.0 + held / 1000}
                for held, stock in ((0, 1000.0), (1_000, 11_000.0), (10_000, 170_000.0))
            ]
        },
    }


@pytest.fixture(params=["stored", "synthetic"])
def drawn(request, tmp_path, monkeypatch):
    results = json.loads(RESULTS.read_text()) if request.param == "stored" else synthetic()
    shown = []
    monkeypatch.setattr(plots, "_save", lambda fig, out, name: shown.append(fig) or out / name)
    plots.draw_all(results, tmp_path)
    yield {
        (fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()): fig
        for fig in shown
    }
    plt.close("all")


def test_plots_are_readable_and_say_what_they_show(drawn, tmp_path):
    assert drawn
    for title, fig in drawn.items():
        width, height = fig.get_size_inches() * plots.DPI
        assert width >= 900 and height >= 500, title
        for ax in fig.axes:
            labels = [
                t.get_text() for t in (ax.get_legend().get_texts() if ax.get_legend() else [])
            ]
            assert not any(name in labels for name in ("memory", "sqlite", "async_sqlite"))
            assert not any("wake_log_" in label for label in labels)
            targets = [line for line in labels if line.startswith("target")]
            if ax.get_legend() and any(line.get_linestyle() == "--" for line in ax.get_lines()):
                assert targets, f"{title}: a target line needs a label"


def test_counts_that_span_decades_are_on_a_log_scale(drawn):
    for title, fig in drawn.items():
        if "Scale" in title or "Throughput" in title:
            assert all(ax.get_xscale() == "log" for ax in fig.axes if ax.axison), title


def test_the_issue_24_plots_show_their_targets():
    shown = []
    results = synthetic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "_save", lambda fig, out, name: shown.append((name, fig)) or out / name)
        plots.draw_all(results, ROOT)
    figs = dict(shown)
    assert set(figs) == {"throughput", "history", "runtime"}
    rate, latency = figs["throughput"].axes
    target = [line for line in rate.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in target] == [pytest.approx(0.9 * 22)]
    assert sorted(rate.get_xticks()) == [1, 10, 100, 300]
    labels = [t.get_text() for t in latency.get_legend().get_texts()]
    assert "served, wake on enqueue: p99" in labels
    cycle, throughput = figs["history"].axes
    assert [t.get_text() for t in cycle.get_xticklabels()] == ["0", "10,000", "50,000"]
    cycle_target = [line for line in cycle.get_lines() if line.get_linestyle() == "--"]
    assert cycle_target[0].get_ydata()[0] == pytest.approx(1.2 * 40.0)
    throughput_targets = sorted(
        line.get_ydata()[0] for line in throughput.get_lines() if line.get_linestyle() == "--"
    )
    assert throughput_targets == [pytest.approx(0.9 * 19), pytest.approx(0.9 * 20)]
    (held,) = figs["runtime"].axes
    assert [t.get_text() for t in held.get_xticklabels()] == ["0", "1,000", "10,000"]
    assert held.get_yscale() == "log"  # 0.65 ms against 170 ms
    (target,) = [line for line in held.get_lines() if line.get_linestyle() == "--"]
    assert target.get_ydata()[0] == pytest.approx(1.2 * 0.65)
    plt.close("all")
