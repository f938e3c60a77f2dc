"""Pure helpers of the comparison benchmark (bench/compare.py, bench/_ceiling.py) and the
``predelinq bench`` command's wiring: no Kafka, no subprocess, no timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench._ceiling import DictStore, write_status
from bench.compare import (
    DOC_END,
    DOC_START,
    Sample,
    assess_targets,
    cpu_model,
    cpu_seconds,
    drain_figures,
    latency_summary,
    match_latencies,
    peak_rss,
    percentile,
    render_section,
    replace_section,
    results_table,
)
from stream_app.cli._bench import bench_checkout
from stream_app.cli.main import build_parser

_STAT = ("4242 (python -m (odd) name) S 1 4242 4242 0 -1 4194560 9000 0 12 0 "
         "250 50 0 0 20 0 3 0 123456 1000000 5000 18446744073709551615")


def test_cpu_seconds_count_fields_after_the_command_name() -> None:
    assert cpu_seconds(_STAT, 100) == pytest.approx(3.0)  # utime 250 + stime 50 ticks


def test_peak_rss_and_cpu_model() -> None:
    status = "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  100000 kB\n"
    assert peak_rss(status) == 204800 * 1024
    assert peak_rss("Name:\tpython\n") is None
    cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"
    assert cpu_model(cpuinfo + cpuinfo) == "AMD EPYC 7B13"
    assert cpu_model("processor\t: 0\n") == "unknown"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_latencies_match_inputs_by_topic_and_event_id() -> None:
    inputs = {("tx", "e1"): 1000, ("tx", "e2"): 1010, ("pay", "e1"): 1020, ("tx", "e3"): 1030}
    outputs: list[tuple[int, str | None, str]] = [
        (1015, "tx", "e1"),
        (1012, "tx", "e1"),  # a repeat delivered earlier in offset order counts first
        (1040, "pay", "e1"),  # same event id, other topic: its own input
        (1050, "timer", "salary@123"),  # absence deadline: no input record
        (1060, "tx", "old"),  # triggered by a backlog record, outside the measured set
        (1070, None, "e2"),  # no trigger topic: cannot be matched
    ]
    latency = match_latencies(inputs, outputs)
    assert sorted(latency.latencies_ms) == [12.0, 20.0]
    assert (latency.timer_skipped, latency.unmatched_outputs) == (1, 2)
    assert latency.inputs_without_output == 2  # e2 (unmatched) and e3 (no risk event)
    summary = latency_summary(latency)
    assert summary["p50"] == 12.0
    assert summary["p99"] == 20.0
    assert summary["matched"] == 2
    assert latency_summary(match_latencies({}, []))["p99"] is None


def test_drain_uses_deltas_from_the_first_consuming_sample() -> None:
    samples = [Sample(0.0, 0, 1.0), Sample(1.0, 500, 1.5), Sample(2.0, 1500, 2.0),
               Sample(3.0, 2500, 2.5), Sample(4.0, 2500, 2.5)]
    drain = drain_figures(samples, 2500)
    assert drain is not None
    assert (drain.events, drain.seconds, drain.complete) == (2000, 2.0, True)
    assert drain.events_per_second == pytest.approx(1000.0)
    assert drain.cpu_us_per_event == pytest.approx(500.0)  # 1 s of CPU over 2000 events
    bounded = drain_figures(samples[:3], 2500)  # stopped by the time bound
    assert bounded is not None
    assert (bounded.events, bounded.complete) == (1000, False)
    assert drain_figures([Sample(0.0, 0, 0.0)], 10) is None
    assert drain_figures([Sample(0.0, 10, 0.0)], 10) is None  # one sample: no span


def test_replace_section_between_markers_and_append_without() -> None:
    doc = f"# Perf\n\nbefore\n\n{DOC_START}\nold table\n{DOC_END}\n\nafter\n"
    updated = replace_section(doc, "new table\n")
    assert updated == f"# Perf\n\nbefore\n\n{DOC_START}\nnew table\n{DOC_END}\n\nafter\n"
    assert replace_section(updated, "new table") == updated  # idempotent
    appended = replace_section("# Perf\n", "table")
    assert appended == f"# Perf\n\n{DOC_START}\ntable\n{DOC_END}\n"
    with pytest.raises(ValueError, match="without"):
        replace_section(f"x {DOC_START} y", "table")
    with pytest.raises(ValueError, match="without"):
        replace_section(f"x {DOC_END} y", "table")


def _engine(name: str, eps: float, *, cpu: float = 100.0, p99: float = 50.0,
            rate: float = 5000.0, caught_up: bool = True) -> dict[str, Any]:
    return {
        "engine": name, "backlog_events": 10_000,
        "drain": {"events": 9_900, "seconds": 1.0, "events_per_second": eps,
                  "cpu_us_per_event": cpu, "complete": True},
        "peak_rss_mib": 150.0,
        "offered": {"rate": rate, "events": 50_000, "seconds": 10.0, "achieved_rate": rate},
        "caught_up": caught_up,
        "latency_ms": {"p50": 10.0, "p99": p99, "max": p99},
    }


def test_targets_met_and_missed_with_margins() -> None:
    met = assess_targets(_engine("worker", 25_000, cpu=40.0, rate=12_500.0),
                         _engine("ceiling", 50_000))
    assert [t["met"] for t in met] == [True, True, True, True]
    assert met[0]["by"] == "+5,000 events/s (125% of the target)"
    assert met[1]["by"] == "-10 µs (0.8x the bound)"
    assert met[2]["by"] == "+10 percentage points"
    missed = assess_targets(_engine("worker", 2_000, cpu=450.0, p99=12_100.0, rate=1_000.0),
                            _engine("ceiling", 8_000))
    assert [t["met"] for t in missed] == [False, False, False, False]
    assert missed[0]["by"] == "-18,000 events/s (10% of the target)"
    assert missed[1]["by"] == "+400 µs (9.0x the bound)"
    assert missed[2]["measured"].startswith("25%")
    assert missed[3]["by"].startswith("+12,000 ms (121.0x the bound)")
    assert "not comparable" not in missed[3]["by"]  # offered at half the capacity
    low_rate = assess_targets(_engine("worker", 30_000, rate=1000.0), None)
    assert len(low_rate) == 3  # no ceiling: no share of it
    assert not low_rate[2]["met"]  # a fast p99 at a lower load does not meet the target
    assert "not comparable" in low_rate[2]["by"]
    lagging = assess_targets(_engine("worker", 30_000, rate=15_000.0, caught_up=False), None)
    assert not lagging[2]["met"]


def test_the_latency_phase_offers_a_share_of_the_measured_capacity() -> None:
    from bench.compare import Drain, Workload, offered_rate

    drain = Drain(events=10_000, seconds=5.0, events_per_second=2_000.0,
                  cpu_us_per_event=400.0, complete=True)
    half = Workload([], [], rate=5_000.0, drain_bound=60.0, load_fraction=0.5)
    assert offered_rate(half, drain) == 1_000.0
    assert offered_rate(half, None) == 5_000.0  # no drain figure: the fixed rate
    fixed = Workload([], [], rate=5_000.0, drain_bound=60.0)
    assert offered_rate(fixed, drain) == 5_000.0
    fast = Drain(events=10_000, seconds=0.1, events_per_second=100_000.0,
                 cpu_us_per_event=10.0, complete=True)
    assert offered_rate(half, fast) == 5_000.0  # at most the events generated for the phase


def test_table_and_section_carry_ratios_machine_and_targets() -> None:
    engines = [_engine("ceiling", 8_000.0), _engine("naive", 100.0, rate=50.0),
               _engine("worker", 4_000.0, p99=9_000.0)]
    table = results_table(engines)
    assert "| ceiling | 9,900 of 10,000 | 8,000 | 1.00x |" in table
    assert "| worker | 9,900 of 10,000 | 4,000 | 0.50x |" in table
    report = {
        "date": "2026-11-25",
        "machine": {"cores": 2, "cpu_model": "AMD EPYC"},
        "versions": {"python": "3.11.7", "faust-streaming": "0.15.3", "aiokafka": "0.14.0",
                     "catboost": "1.2.10", "shap": "0.51.0", "kafka": "Apache Kafka 4.1.1"},
        "command": ".venv/bin/python -m bench.compare --write-doc",
        "worker_source": "working tree at abc1234",
        "model": "model v1 (60 trees of depth 6)",
        "config": {"partitions": 4, "batch_size": 100, "store": "rocksdb://",
                   "customers": 3000, "backlog": 150_000, "naive_drain_seconds": 60.0},
        "engines": engines,
        "headline": {"throughput_ratio": 0.5, "cpu_ratio": 1.0,
                     "worker_events_per_second": 4000.0, "ceiling_events_per_second": 8000.0},
        "targets": assess_targets(engines[2], engines[0]),
    }
    section = render_section(report)
    assert "2 cores (AMD EPYC)" in section
    assert "faust-streaming 0.15.3" in section
    assert "`.venv/bin/python -m bench.compare --write-doc`" in section
    assert "model v1 (60 trees of depth 6)" in section
    assert "0.50x the ceiling" in section
    assert "25 minutes" in section  # the naive agent on the others' backlog
    assert "| ≥ 40% of the ceiling in the same run | 50% (4,000 / 8,000 events/s) | met |" \
        in section
    assert "**missed**" in section
    assert DOC_START not in section


def test_dict_store_keeps_states_and_contacts_per_partition() -> None:
    store = DictStore()
    assert store.get(0, b"c1") is None
    store.put(0, b"c1", b"s1")
    store.put(1, b"c2", b"s2")
    store.put_contact(0, b"c1", b"k1")
    assert store.get(0, b"c1") == b"s1"
    assert store.get(1, b"c1") is None
    assert store.get_contact(0, b"c1") == b"k1"
    assert store.get_contact(0, b"c2") is None
    assert list(store.items(0)) == [(b"c1", b"s1")]
    assert list(store.items(7)) == []


def test_status_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    write_status(path, {"consumed": 3})
    write_status(path, {"consumed": 5})
    assert path.read_text() == '{"consumed": 5}'
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_bench_command_passes_every_argument_through() -> None:
    args = build_parser().parse_args(["bench", "--short", "--engines", "ceiling", "-h"])
    assert args.bench_args == ["--short", "--engines", "ceiling", "-h"]
    assert build_parser().parse_args(["bench"]).bench_args == []


def test_bench_checkout_found_only_next_to_the_package(tmp_path: Path) -> None:
    assert bench_checkout() is not None  # this repository
    assert bench_checkout(tmp_path / "site-packages" / "stream_app") is None
