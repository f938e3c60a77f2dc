-- The console's portfolio page (predelinq console) reads a bounded window of whole UTC days of
-- scores and interventions, aggregated by day. Without an index on the time column every page
-- is a scan of the whole table; with one, a scan of the window only. The customer timelines use
-- the (customer_id, time DESC) indexes of 0001. Each index costs every insert of the sink a
-- little (one more b-tree entry); docs/performance.md has the console's page times.
--
-- CREATE INDEX (not CONCURRENTLY: the runner gives every migration a transaction) takes a SHARE
-- lock: inserts wait during the build, reads go on. The runner's lock timeout makes it give up
-- (and be re-runnable) behind an open insert transaction instead of queueing the sink behind it.

-- INCLUDE: the columns the day aggregates read, so that they are index-only scans (the heap
-- is read only for the top reason's jsonb, and for pages not yet all-visible: autovacuum
-- marks an insert-only table's pages as it goes, PostgreSQL 13+).
CREATE INDEX IF NOT EXISTS risk_scores_scored_at
    ON risk_scores (scored_at) INCLUDE (band, track, score);
CREATE INDEX IF NOT EXISTS interventions_created_at
    ON interventions (created_at) INCLUDE (action, actionable, rule, experiment_arm);
