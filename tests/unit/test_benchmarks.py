"""The benchmark suite's own logic: statistics, sizes, archive seeding, targets (no server)."""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from benchmarks import cli, history, runtime, served
from benchmarks.__main__ import parse_args, resize, targets
from benchmarks.common import DEFAULT, FULL, percentile, summarize
from graphs.common import store


def test_summary_has_nearest_rank_percentiles():
    stats = summarize([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert (stats["median_ms"], stats["p95_ms"], stats["p99_ms"]) == (50.5, 95, 99)
    assert summarize([0.010, 0.020])["p99_ms"] == 20  # few samples: p99 is the largest
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 90) == 9.0
    assert summarize([]) == {"n": 0}


def test_default_sizes_cover_issue_24():
    assert DEFAULT.clients == (1, 10, 100, 300)
    assert (DEFAULT.burst, DEFAULT.burst_concurrency) == (1_000, 300)
    assert DEFAULT.history_decided == (0, 10_000, 50_000) == FULL.history_decided
    assert DEFAULT.history_pending == 1_000 and DEFAULT.history_clients == (10, 100)
    assert DEFAULT.history_real < FULL.history_real
    assert DEFAULT.history_rounds == FULL.history_rounds == 3


def test_sizes_are_changed_from_the_command_line():
    args = parse_args(["--only", "history", "cli", "--size", "clients=1,10", "--size", "burst=50"])
    assert args.only == ["history", "cli"]
    sizes = resize(DEFAULT, [*args.size, "throughput_seconds=2.5", "throughput_variants=wake"])
    assert sizes.clients == (1, 10) and sizes.burst == 50
    assert sizes.throughput_seconds == 2.5 and sizes.throughput_variants == ("wake",)
    with pytest.raises(SystemExit, match="no size called 'clinets'"):
        resize(DEFAULT, ["clinets=1"])
    with pytest.raises(SystemExit, match="burst=many"):
        resize(DEFAULT, ["burst=many"])


def _row(thread_id):
    when = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    return {
        "thread_id": thread_id,
        "workflow": "expense_approval",
        "owner": "alice",
        "outcome": "approved",
        "metadata": json.dumps({"owner": "alice", "origin": thread_id}),
        "record": json.dumps({"status": "approved", "thread": thread_id}),
        "created_at": when,
        "decided_at": when,
        "archived_at": when,
    }


def test_archive_copies_get_fresh_ids_everywhere_and_older_dates():
    template = _row(str(uuid.uuid4()))
    made = list(history.copies([template], 3))
    ids = [row["thread_id"] for row in made]
    assert len(set(ids)) == 3 and template["thread_id"] not in ids
    for row in made:
        assert template["thread_id"] not in row["metadata"] + row["record"]
        assert json.loads(row["metadata"])["origin"] == row["thread_id"]
        assert json.loads(row["record"])["thread"] == row["thread_id"]
    assert [row["decided_at"] for row in made] == sorted(
        (row["decided_at"] for row in made), reverse=True
    )
    assert made[0]["decided_at"] == template["decided_at"] - history.SPREAD
    with pytest.raises(ValueError):
        next(history.copies([], 1))


def test_the_archive_of_a_stopped_server_is_filled_up_to_a_level(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    real = [_row(str(uuid.uuid4())) for _ in range(3)]
    with store.engine(url).begin() as conn:
        conn.execute(store.archive.insert(), real)
    templates = history.archive_rows(url)
    assert history.fill_archive(url, templates, 25, batch=7) == 22
    assert history.archive_count(url) == 25
    assert history.fill_archive(url, templates, 20) == 0  # already there: nothing added
    with store.engine(url).connect() as conn:
        rows = conn.execute(select(store.archive.c.thread_id, store.archive.c.owner)).all()
    assert len({r.thread_id for r in rows}) == 25 and {r.owner for r in rows} == {"alice"}


def _round(cycle_ms, rates, errors=0):
    """One :func:`history.measure_level` result: sequential cycles at ``cycle_ms``, throughputs."""
    return {
        "cycle": {"median_ms": cycle_ms},
        "times": [cycle_ms / 1000] * 3,
        "throughput": [_tp(c, rate, errors=errors) for c, rate in rates.items()],
    }


def test_history_levels_are_compared_round_by_round():
    # The machine slows down by half in round 2: every level with it.
    empty = [
        _round(40, {10: 20, 100: 18}),
        _round(60, {10: 10, 100: 9}),
        _round(40, {10: 20, 100: 18}),
    ]
    held = [
        _round(44, {10: 19, 100: 16}, errors=1),
        _round(66, {10: 9.5, 100: 8}),
        _round(40, {10: 21, 100: 9}),
    ]
    levels = [history.combine(empty), history.combine(held)]
    history.compare(levels)
    base, level = levels
    assert base["cycle_vs_empty"] == 1.0 and base["throughput_vs_empty"] == {"10": 1.0, "100": 1.0}
    assert level["cycle_vs_empty_rounds"] == [1.1, 1.1, 1.0] and level["cycle_vs_empty"] == 1.1
    assert level["throughput_vs_empty_rounds"] == {
        "10": [0.95, 0.95, 1.05],
        "100": [0.89, 0.89, 0.5],
    }
    assert level["throughput_vs_empty"] == {"10": 0.95, "100": 0.89}
    # Pooled sequential cycles; each client count keeps its median round's run.
    assert level["cycle"]["n"] == 9 and level["cycle"]["median_ms"] == 44
    ten, hundred = level["throughput"]
    assert ten["cycles_per_s"] == 19 and ten["cycles_per_s_rounds"] == [19, 9.5, 21]
    assert hundred["cycles_per_s"] == 9 and hundred["errors"] == 1
    assert [r["cycles_per_s"] for r in level["rounds"]] == [
        {"10": 19, "100": 16},
        {"10": 9.5, "100": 8},
        {"10": 21, "100": 9},
    ]
    with pytest.raises(ValueError):  # rounds must pair up
        history.compare([history.combine(empty), history.combine(held[:2])])


def test_server_cpu_counts_the_whole_process_group():
    group = os.getpgrp()
    before = served.cpu_seconds(group)
    burn = (
        "import time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\nprint('burnt', flush=True)\ntime.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "burnt\n"  # 0.3 s of CPU spent, still alive
        during = served.cpu_seconds(group)
    finally:
        child.kill()
        child.wait()
    assert during - before >= 0.25


def test_disk_is_the_data_directory_and_the_runtime_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "checkpoints.sqlite").write_bytes(b"x" * 100)
    (data / "checkpoints.sqlite-wal").write_bytes(b"x" * 50)
    (data / "ledger.sqlite").write_bytes(b"x" * 10)
    (tmp_path / ".langgraph_api").mkdir()
    (tmp_path / ".langgraph_api" / "store.pckl").write_bytes(b"x" * 7)
    sizes = served.disk_bytes(SimpleNamespace(data_dir=data, root=tmp_path))
    assert sizes == {
        "checkpoints.sqlite": 150,
        "ledger.sqlite": 10,
        ".langgraph_api": 7,
        "total": 167,
    }


def test_cli_timings_fail_loudly_when_a_command_did_not_work():
    ok = subprocess.CompletedProcess([], 0, stdout=f"{cli.WAITING} waiting:\n...", stderr="")
    cli.check("pending", ok)
    with pytest.raises(RuntimeError, match="did not list"):
        cli.check("pending", subprocess.CompletedProcess([], 0, stdout="0 waiting", stderr=""))
    with pytest.raises(RuntimeError, match="exited 2"):
        cli.check("help", subprocess.CompletedProcess([], 2, stdout="", stderr="boom"))
    assert cli.stats([0.3, 0.1, 0.2]) == {
        "n": 3,
        "median_s": 0.2,
        "p90_s": 0.3,
        "min_s": 0.1,
        "max_s": 0.3,
    }


def _tp(clients, rate, cpu_ratio=3.0, errors=0):
    return {
        "clients": clients,
        "cycles_per_s": rate,
        "errors": errors,
        "server_cpu_ms_per_cycle": 6.0 * cpu_ratio,
        "cpu_vs_inprocess": cpu_ratio,
        "cycle": {"median_ms": 40.0, "p99_ms": 90.0},
    }


def _judged(results):
    return {t["name"]: t["met"] for t in targets(results)}


def test_issue_24_targets_are_judged():
    results = {
        "throughput": {
            "inprocess": {"median_ms": 6.0},
            "variants": {"wake": [_tp(10, 20.0), _tp(100, 18.5, cpu_ratio=4.5)]},
            "burst": {
                "submissions": 1000,
                "concurrency": 300,
                "seconds": 30.0,
                "errors": 0,
                "paused": 1000,
            },
        },
        "history": {
            "seeding": {
                "cost_empty": {"held": 5, "cycle": {"median_ms": 40.0}},
                "cost_held": {"held": 525, "cycle": {"median_ms": 52.0}},
                "cost_held_vs_empty": {"cycle": 1.3, "cpu": 1.4},
            },
            "levels": [
                {
                    "decided": 0,
                    "cycle": {"median_ms": 40.0},
                    "cycle_vs_empty": 1.0,
                    "throughput": [_tp(10, 20.0)],
                    "throughput_vs_empty": {"10": 1.0},
                },
                {
                    "decided": 10_000,
                    "cycle": {"median_ms": 47.0},
                    "cycle_vs_empty": 1.18,
                    "throughput": [_tp(10, 17.0)],
                    "throughput_vs_empty": {"10": 0.85},
                },
            ],
        },
        "cli": {"commands": {"help": {"argv": ["hitl", "--help"], "median_s": 0.25, "p90_s": 0.4}}},
        "runtime": {
            "levels": [
                {"held": 0, "stock_us": 900, "indexed_us": 600},
                {
                    "held": 10_000,
                    "stock_us": 90_000,
                    "stock_vs_empty": 100.0,
                    "indexed_us": 660,
                    "indexed_vs_empty": 1.1,
                },
            ]
        },
    }
    judged = _judged(results)
    assert judged["runtime: one cycle's runtime operations with 10,000 decided held"] is True
    assert judged["no collapse"] is True  # 18.5 >= 0.9 x 20
    assert judged["server CPU per cycle"] is False  # 4.5x > 4x
    assert judged["burst of 1,000 submissions"] is True
    assert judged["history: cycle at 10,000 decided"] is True
    assert judged["history: throughput, 10 clients, at 10,000 decided"] is False
    assert judged["history: cycle with 525 decided held in the runtime"] is False  # 1.3x
    assert judged["cli: hitl --help"] is True
    results["throughput"]["variants"]["wake"][1] = _tp(100, 19.0, errors=2)
    results["throughput"]["burst"]["paused"] = 999
    judged = _judged(results)
    assert judged["no collapse"] is False  # failed cycles never count as met
    assert judged["burst of 1,000 submissions"] is False


def test_the_runtime_section_measures_the_real_runtime_both_ways():
    """A small run of the child process: both variants ran, on the levels asked for."""
    sizes = replace(DEFAULT, runtime_held=(0, 300), runtime_cycles=5, runtime_rounds=2)
    found = runtime.run(sizes)
    assert [level["held"] for level in found["levels"]] == [0, 300]
    for level in found["levels"]:
        assert len(level["rounds"]["stock"]) == len(level["rounds"]["indexed"]) == 2
        assert level["stock_us"] > 0 and level["indexed_us"] > 0
    held = found["levels"][1]
    assert held["stock_us"] > held["indexed_us"]  # 300 threads scanned ~10 times a cycle


def _level(pending, rounds):
    return {
        "pending": pending,
        "list": {"median_ms": 40.0},
        "cycle": {"median_ms": 25.0},
        "reference_cycle": {"median_ms": 24.0},
        "cycle_vs_reference_rounds": rounds,
        "cycle_vs_reference": statistics.median(rounds),
        "kb_per_pending": 13.0,
        "restart": {"start_s": 6.5},
    }


def test_scale_cycle_growth_is_judged_on_the_median_of_paired_rounds():
    results = {"scale": {"levels": [_level(10, [1.0]), _level(10_000, [1.3, 1.1, 0.9])]}}
    judged = _judged(results)
    assert judged["cycle latency growth"] is True  # one slow round does not decide it
    results["scale"]["levels"][-1] = _level(10_000, [1.3, 1.25, 0.9])
    assert _judged(results)["cycle latency growth"] is False
    assert {"list first page", "restart"} <= _judged(results).keys()


def test_a_paused_server_takes_no_cpu_and_is_let_go_to_stop(monkeypatch):
    burn = "import time\nprint('up', flush=True)\nwhile True: time.process_time()"
    child = subprocess.Popen(
        [sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    dev = SimpleNamespace(proc=child)
    stopped = []

    class Started:  # stands in for DevServer: its exit stops the process with SIGTERM
        def __init__(self, env):
            pass

        def __enter__(self):
            return dev

        def __exit__(self, *exc):
            child.terminate()
            stopped.append(child.wait(timeout=5))  # a still-paused process never ends

    monkeypatch.setattr(served, "DevServer", Started)
    try:
        assert child.stdout.readline() == "up\n"
        served.pause(dev)
        time.sleep(0.2)  # the signal has landed
        paused = served.cpu_seconds(child.pid)
        time.sleep(0.5)
        assert served.cpu_seconds(child.pid) - paused < 0.05
        served.resume(dev)
        time.sleep(0.5)
        assert served.cpu_seconds(child.pid) - paused > 0.2  # burning again
        with pytest.raises(RuntimeError, match="failed"), served.server() as inside:
            served.pause(inside)
            raise RuntimeError("the benchmark failed while the server was paused")
        assert stopped == [-signal.SIGTERM]  # resumed on the way out, then stopped
    finally:
        child.kill()
        child.wait()
