"""The benchmark plots are drawn readable and honest from the stored results."""

import json

import matplotlib.pyplot as plt
import pytest

from benchmarks import plots
from scripts.devserver import ROOT

RESULTS = ROOT / "benchmarks" / "results" / "results.json"


@pytest.fixture
def drawn(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(plots, "_save", lambda fig, out, name: shown.append(fig) or out / name)
    plots.draw_all(json.loads(RESULTS.read_text()), tmp_path)
    yield {
        (fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()): fig
        for fig in shown
    }
    plt.close("all")


def test_plots_are_readable_and_say_what_they_show(drawn, tmp_path):
    for title, fig in drawn.items():
        width, height = fig.get_size_inches() * plots.DPI
        assert width >= 900 and height >= 500, title
        for ax in fig.axes:
            labels = [
                t.get_text() for t in (ax.get_legend().get_texts() if ax.get_legend() else [])
            ]
            assert not any(name in labels for name in ("memory", "sqlite", "async_sqlite"))
            assert not any("wake_log_warning" in label for label in labels)
            targets = [line for line in labels if line.startswith("target")]
            if ax.get_legend() and any(line.get_linestyle() == "--" for line in ax.get_lines()):
                assert targets, f"{title}: a target line needs a label"


def test_counts_that_span_decades_are_on_a_log_scale(drawn):
    scale = next(fig for title, fig in drawn.items() if "Scale" in title)
    assert all(ax.get_xscale() == "log" for ax in scale.axes)
