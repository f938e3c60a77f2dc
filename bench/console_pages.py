"""Page times of ``predelinq console`` over a large audit trail.

    scripts/with-postgres.sh .venv/bin/python -m bench.console_pages [--scores 1000000]
        [--interventions 1000000] [--days 90] [--requests 30] [--write-doc]

Creates a fresh database on the server of ``--database-url`` (default
``PREDELINQ_TEST_DATABASE_URL``, as scripts/with-postgres.sh exports it), applies every
migration, loads synthetic risk_scores and interventions rows (COPY through asyncpg's
``copy_records_to_table``) spread over ``--days`` UTC days, runs ``VACUUM ANALYZE``, serves
the console on a free loopback port and times each page over ``--requests`` authenticated
requests (after one warm-up each): median and p95 of the whole HTTP round trip. Then the
cost of the daily rollups of migration 0007: its backfill of the loaded rows run again (how
long a migration of such a table holds inserts back), and the sink's kind of insert
statement (``--insert-batches`` of 500 rows, ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``) with the rollup triggers and without them. With ``--write-doc`` the
``bench:console`` section of docs/performance.md is replaced. The database is dropped at the
end. Nothing prints a customer id.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

from bench.compare import cpu_model, replace_section
from stream_app.console import ConsoleConfig, build_app
from tests.support.databases import fresh_database

REPO = Path(__file__).resolve().parents[1]
DOC_PATH = REPO / "docs" / "performance.md"
DOC_START = "<!-- bench:console -->"
DOC_END = "<!-- /bench:console -->"
KEY = "bench-console-key-0123456789"
SEED = 22
FEATURES = ("days_since_salary", "failed_debits_30d", "utilisation", "balance_trend",
            "gambling_spend_30d", "days_past_due", "overdraft_days_30d", "salary_drop",
            "cash_withdrawals_30d", "missed_payments_90d", "payday_loan_credits", "income_gap")
BANDS = ((40, "LOW"), (60, "MEDIUM"), (80, "HIGH"), (101, "CRITICAL"))
ACTIONS = ("PAYMENT_REMINDER", "PAYMENT_HOLIDAY_OFFER", "BUDGETING_TOOL", "COLLECTIONS_CALL",
           "SPECIALIST_REVIEW")
RULES = (None, None, None, None, "cooldown", "cap_30d", "opt_out", "hardship_plan")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _band(score: int) -> str:
    return next(name for top, name in BANDS if score < top)


def _reasons(rng: random.Random) -> str:
    picked = rng.sample(FEATURES, 3)
    return json.dumps([{"code": f.upper(), "feature": f, "value": round(rng.random(), 3),
                        "contribution": 0.3 - 0.1 * i, "text": f"{f} explains it"}
                       for i, f in enumerate(picked)])


def _customer(i: int) -> str:
    return f"B{i:07d}"


def score_rows(n: int, customers: int, days: int, seed: int) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    span = days * 86_400
    for i in range(n):
        at = START + dt.timedelta(seconds=span * i / n + rng.random())
        drift = 8 * i / n  # the portfolio drifts up over the period
        score = max(0, min(100, int(rng.gauss(35 + drift, 18))))
        track = "ARREARS" if rng.random() < 0.1 else "PRE_DELINQUENCY"
        yield (uuid.UUID(int=rng.getrandbits(128)), _customer(rng.randrange(customers)), at, at,
               f"t{i}", score / 100, score, _band(score), "v-bench", _reasons(rng), track)


def intervention_rows(n: int, customers: int, days: int,
                      seed: int) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed + 1)
    span = days * 86_400
    for i in range(n):
        at = START + dt.timedelta(seconds=span * i / n + rng.random())
        score = rng.randrange(60, 101)
        rule = rng.choice(RULES)
        arm = "CONTROL" if rng.random() < 0.1 else "TREATMENT"
        actionable = rule is None and arm == "TREATMENT"
        yield (uuid.UUID(int=rng.getrandbits(128)), _customer(rng.randrange(customers)), at,
               rng.choice(ACTIONS), "SMS", "HIGH", score, _band(score), _reasons(rng),
               "v-bench", "p-bench", at + dt.timedelta(days=7), f"t{i}", arm, actionable, rule)


SCORE_COLUMNS = ["event_id", "customer_id", "scored_at", "as_of", "trigger_event_id",
                 "probability", "score", "band", "model_version", "top_reasons", "track"]
INTERVENTION_COLUMNS = ["intervention_id", "customer_id", "created_at", "action", "channel",
                        "priority", "score", "band", "reasons", "model_version",
                        "policy_version", "expires_at", "trigger_event_id", "experiment_arm",
                        "actionable", "rule"]


async def load(url: str, *, scores: int, interventions: int, customers: int,
               days: int) -> float:
    """Rows into the fresh database; returns the seconds taken (COPY, then VACUUM ANALYZE)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        for table, columns, rows in (
                ("risk_scores", SCORE_COLUMNS, score_rows(scores, customers, days, SEED)),
                ("interventions", INTERVENTION_COLUMNS,
                 intervention_rows(interventions, customers, days, SEED))):
            batch: list[tuple[object, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 100_000:
                    await conn.copy_records_to_table(table, records=batch, columns=columns)
                    batch = []
            if batch:
                await conn.copy_records_to_table(table, records=batch, columns=columns)
        # what autovacuum does to insert-only tables (PostgreSQL 13+): statistics, and the
        # visibility map that lets the day aggregates scan the indexes only
        await conn.execute("VACUUM ANALYZE risk_scores")
        await conn.execute("VACUUM ANALYZE interventions")
    finally:
        await conn.close()
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


async def time_pages(url: str, registry: Path, pages: Sequence[tuple[str, str]],
                     requests: int) -> list[tuple[str, str, float, float, int]]:
    """(name, path, median ms, p95 ms, bytes) per page."""
    config = ConsoleConfig.with_key(url, registry, KEY)
    runner = web.AppRunner(build_app(config), access_log=None)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    results = []
    try:
        headers = {"Authorization": aiohttp.encode_basic_auth("bench", KEY)}
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}",
                                         headers=headers) as session:
            for name, path in pages:
                times = []
                size = 0
                for attempt in range(requests + 1):
                    began = time.perf_counter()
                    async with session.get(path) as response:
                        body = await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{name}: HTTP {response.status}")
                    if attempt:  # the first is the warm-up
                        times.append((time.perf_counter() - began) * 1000)
                    size = len(body)
                results.append((name, path, statistics.median(times),
                                percentile(times, 0.95), size))
    finally:
        await runner.cleanup()
    return results


_INSERT_SCORES = """
INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, trigger_event_id,
                         probability, score, band, model_version, top_reasons, track)
SELECT e, c, t, t, c, s / 100.0, s, b, 'bench', r, k
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::smallint[], $5::text[],
            $6::jsonb[], $7::text[]) AS u(e, c, t, s, b, r, k)
ON CONFLICT (event_id) DO NOTHING
"""
_BATCH_ROWS = 500


async def insert_cost(url: str, *, batches: int, customers: int, days: int) -> dict[str, float]:
    """Microseconds per inserted score row, with the rollup triggers and with the triggers
    disabled (``ALTER TABLE ... DISABLE TRIGGER USER``), and the seconds the backfill of 0007
    takes over the table as loaded (run again: it truncates and recomputes)."""
    from stream_app.db import available_migrations

    rollups = next(m for m in available_migrations() if m.name == "portfolio_daily")
    conn = await asyncpg.connect(url)
    try:
        began = time.perf_counter()
        async with conn.transaction():
            await conn.execute(rollups.sql)
        backfill_s = time.perf_counter() - began
        rows = score_rows(2 * batches * _BATCH_ROWS, customers, days, SEED + 1)
        cost = {}
        for label in ("with triggers", "without triggers"):
            if label == "without triggers":
                await conn.execute("ALTER TABLE risk_scores DISABLE TRIGGER USER")
            spent = 0.0
            for _ in range(batches):
                batch = [next(rows) for _ in range(_BATCH_ROWS)]
                columns = list(zip(*batch, strict=True))
                args = [list(columns[SCORE_COLUMNS.index(c)]) for c in (
                    "event_id", "customer_id", "scored_at", "score", "band", "top_reasons",
                    "track")]
                began = time.perf_counter()
                await conn.execute(_INSERT_SCORES, *args)
                spent += time.perf_counter() - began
            cost[label] = spent / (batches * _BATCH_ROWS) * 1e6
        await conn.execute("ALTER TABLE risk_scores ENABLE TRIGGER USER")
    finally:
        await conn.close()
    return {"backfill_s": backfill_s, **cost}


def render(results: Sequence[tuple[str, str, float, float, int]], *, scores: int,
           interventions: int, customers: int, days: int, requests: int, load_s: float,
           postgres: str, costs: dict[str, float]) -> str:
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d} by `bench/console_pages.py` "
        f"(`scripts/with-postgres.sh .venv/bin/python -m bench.console_pages --write-doc`): "
        f"{scores:,} risk_scores and {interventions:,} interventions rows of {customers:,} "
        f"customers over {days} UTC days, loaded by COPY in {load_s:.0f} s, then VACUUM "
        "ANALYZE; "
        f"PostgreSQL {postgres} (throwaway cluster, fsync off) on the same machine as the "
        f"console ({cpu_model(_cpuinfo())}, {os.cpu_count()} cores, shared). Each page "
        f"{requests} authenticated requests after one warm-up, sequential, the whole HTTP "
        "round trip (queries, HTML, SVG). Goal: every page within 1 s.",
        "",
        "| page | path | median ms | p95 ms | HTML bytes | within 1 s |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for name, path, median, p95, size in results:
        lines.append(f"| {name} | `{path}` | {median:.0f} | {p95:.0f} | {size:,} | "
                     f"{'yes' if p95 <= 1000 else 'NO'} |")
    lines += ["", "The portfolio reads the daily rollups of migration 0007 "
              "(`risk_scores_daily`, `interventions_daily`, kept by statement-level triggers "
              "on the audit tables): two queries at once on two connections, a few hundred "
              "rows per day of the window whatever the rows scored that day; a customer's "
              "timeline reads the `(customer_id, time DESC)` indexes of 0001, at most 200 "
              "rows of each kind.",
              "",
              f"What the rollups cost: the sink's kind of insert statement ({_BATCH_ROWS} "
              f"score rows, `INSERT ... SELECT ... ON CONFLICT DO NOTHING`) took "
              f"{costs['with triggers']:.0f} µs per row with the triggers and "
              f"{costs['without triggers']:.0f} µs without them; 0007's backfill of the "
              f"{scores:,} + {interventions:,} loaded rows took {costs['backfill_s']:.1f} s "
              "(inserts wait for it; reads go on)."]
    return "\n".join(lines)


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


async def run(args: argparse.Namespace, url: str) -> str:
    """Load the rows into the migrated database at ``url`` and time the pages."""
    load_s = await load(url, scores=args.scores, interventions=args.interventions,
                        customers=args.customers, days=args.days)
    print(f"loaded in {load_s:.1f} s", file=sys.stderr)
    conn = await asyncpg.connect(url)
    try:
        postgres = str(await conn.fetchval("SHOW server_version")).split()[0]
        busiest = await conn.fetchval(
            "SELECT customer_id FROM risk_scores GROUP BY customer_id "
            "ORDER BY count(*) DESC LIMIT 1")
    finally:
        await conn.close()
    pages = [("portfolio, 30 days (default)", "/"),
             ("portfolio, 7 days", "/?days=7"),
             (f"portfolio, {args.days} days (every row)", f"/?days={args.days}"),
             ("portfolio, 366 days (the longest window)", "/?days=366"),
             ("customer timeline (most rows)", f"/customers/{busiest}"),
             ("customer search", f"/search?customer_id={busiest}"),
             ("models", "/models")]
    with tempfile.TemporaryDirectory(prefix="bench-console-registry-") as registry:
        results = await time_pages(url, Path(registry), pages, args.requests)
    costs = await insert_cost(url, batches=args.insert_batches, customers=args.customers,
                              days=args.days)
    # the customer's id stays out of the table (the path of its row is generic)
    shown = [(n, "/customers/{id}" if "customer timeline" in n
              else "/search?customer_id={id}" if "search" in n else p, m, q, s)
             for n, p, m, q, s in results]
    return render(shown, scores=args.scores, interventions=args.interventions,
                  customers=args.customers, days=args.days, requests=args.requests,
                  load_s=load_s, postgres=postgres, costs=costs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("PREDELINQ_TEST_DATABASE_URL"))
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--interventions", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--insert-batches", type=int, default=100)
    parser.add_argument("--write-doc", action="store_true",
                        help="replace the bench:console section of docs/performance.md")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or PREDELINQ_TEST_DATABASE_URL (scripts/with-postgres.sh)")
    # a fresh migrated database of its own, dropped afterwards (as the tests' databases)
    with fresh_database(args.database_url) as url:
        section = asyncio.run(run(args, url))
    print(section)
    if args.write_doc:
        DOC_PATH.write_text(replace_section(DOC_PATH.read_text(), section, DOC_START, DOC_END))
        print(f"updated {DOC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
