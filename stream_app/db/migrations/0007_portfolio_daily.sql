-- Daily rollups of the audit trail for the console's portfolio page (issue 22: every page
-- within 1 s with 1M audit rows, whatever the window). Aggregating the window's rows on each
-- request grew with the rows in the window (1.6 s for 90 days of 1M scores); the page now
-- reads one row per (day, band, track, score bucket, top feature) and per (day, action,
-- suppression reason), a few thousand rows for a year.
--
-- The rollups are kept by statement-level triggers over the statement's transition table:
-- only rows really inserted are counted (the sink's INSERT ... ON CONFLICT DO NOTHING leaves
-- re-delivered ones out of it), deletes are subtracted (an erasure, a retention job) and an
-- update moves a row from its old key to its new one. One upsert per statement, its keys in
-- a fixed order (two sinks inserting at once lock the same rows in the same order).
--
-- The backfill runs under a SHARE ROW EXCLUSIVE lock of both tables: reads go on, inserts
-- wait until the commit (seconds for a million rows; docs/performance.md), so no row is
-- counted twice or missed between the backfill and the triggers. lock_timeout as in 0003:
-- behind a long transaction the migration gives up after 5 s, changes nothing, and can be run
-- again. The backfill recomputes the rollups from the tables (TRUNCATE first), so running
-- the file again gives the same rows.
SET LOCAL lock_timeout = '5s';

LOCK TABLE risk_scores, interventions IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE IF NOT EXISTS risk_scores_daily (
    day     date     NOT NULL,  -- scored_at's UTC day
    band    text     NOT NULL,
    track   text     NOT NULL,
    bucket  smallint NOT NULL,  -- width_bucket(score, 0, 101, 10): 1..10
    feature text     NOT NULL,  -- the top reason's feature, '(none)' without a reason
    n       bigint   NOT NULL,
    total   bigint   NOT NULL,  -- the sum of the scores
    PRIMARY KEY (day, band, track, bucket, feature)
);

CREATE TABLE IF NOT EXISTS interventions_daily (
    day        date    NOT NULL,  -- created_at's UTC day
    action     text    NOT NULL,
    actionable boolean NOT NULL,
    reason     text    NOT NULL,  -- '' when actionable, else what suppressed it
    n          bigint  NOT NULL,
    PRIMARY KEY (day, action, actionable, reason)
);

-- sign +1: rows of the NEW transition table added; -1: rows of the OLD one taken away
CREATE OR REPLACE FUNCTION risk_scores_daily_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO risk_scores_daily AS d (day, band, track, bucket, feature, n, total)
        SELECT (scored_at AT TIME ZONE 'UTC')::date, band, track,
               width_bucket(score, 0, 101, 10),
               coalesce(top_reasons -> 0 ->> 'feature', '(none)'), -count(*), -sum(score)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (day, band, track, bucket, feature)
        DO UPDATE SET n = d.n + excluded.n, total = d.total + excluded.total;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO risk_scores_daily AS d (day, band, track, bucket, feature, n, total)
        SELECT (scored_at AT TIME ZONE 'UTC')::date, band, track,
               width_bucket(score, 0, 101, 10),
               coalesce(top_reasons -> 0 ->> 'feature', '(none)'), count(*), sum(score)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (day, band, track, bucket, feature)
        DO UPDATE SET n = d.n + excluded.n, total = d.total + excluded.total;
    END IF;
    RETURN NULL;
END $$;

-- the CASE of stream_app/console/_queries.py's suppression_reason (its Python twin)
CREATE OR REPLACE FUNCTION interventions_daily_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO interventions_daily AS d (day, action, actionable, reason, n)
        SELECT (created_at AT TIME ZONE 'UTC')::date, action, actionable,
               CASE WHEN actionable THEN '' ELSE coalesce(rule, CASE WHEN experiment_arm =
                   'CONTROL' THEN 'control_group' ELSE 'not_actionable' END) END, -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (day, action, actionable, reason) DO UPDATE SET n = d.n + excluded.n;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO interventions_daily AS d (day, action, actionable, reason, n)
        SELECT (created_at AT TIME ZONE 'UTC')::date, action, actionable,
               CASE WHEN actionable THEN '' ELSE coalesce(rule, CASE WHEN experiment_arm =
                   'CONTROL' THEN 'control_group' ELSE 'not_actionable' END) END, count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (day, action, actionable, reason) DO UPDATE SET n = d.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

-- a trigger with transition tables has one event (PostgreSQL's rule): three per table
DROP TRIGGER IF EXISTS risk_scores_daily_insert ON risk_scores;
DROP TRIGGER IF EXISTS risk_scores_daily_delete ON risk_scores;
DROP TRIGGER IF EXISTS risk_scores_daily_update ON risk_scores;
CREATE TRIGGER risk_scores_daily_insert AFTER INSERT ON risk_scores
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_scores_daily_apply();
CREATE TRIGGER risk_scores_daily_delete AFTER DELETE ON risk_scores
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_scores_daily_apply();
CREATE TRIGGER risk_scores_daily_update AFTER UPDATE ON risk_scores
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_scores_daily_apply();

DROP TRIGGER IF EXISTS interventions_daily_insert ON interventions;
DROP TRIGGER IF EXISTS interventions_daily_delete ON interventions;
DROP TRIGGER IF EXISTS interventions_daily_update ON interventions;
CREATE TRIGGER interventions_daily_insert AFTER INSERT ON interventions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION interventions_daily_apply();
CREATE TRIGGER interventions_daily_delete AFTER DELETE ON interventions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION interventions_daily_apply();
CREATE TRIGGER interventions_daily_update AFTER UPDATE ON interventions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION interventions_daily_apply();

-- TRUNCATE of an audit table fires no row or statement trigger with rows: empty its rollup
CREATE OR REPLACE FUNCTION audit_daily_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'risk_scores' THEN
        TRUNCATE risk_scores_daily;
    ELSE
        TRUNCATE interventions_daily;
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS risk_scores_daily_truncate ON risk_scores;
DROP TRIGGER IF EXISTS interventions_daily_truncate ON interventions;
CREATE TRIGGER risk_scores_daily_truncate AFTER TRUNCATE ON risk_scores
    FOR EACH STATEMENT EXECUTE FUNCTION audit_daily_truncate();
CREATE TRIGGER interventions_daily_truncate AFTER TRUNCATE ON interventions
    FOR EACH STATEMENT EXECUTE FUNCTION audit_daily_truncate();

-- the backfill: what the tables hold now
TRUNCATE risk_scores_daily, interventions_daily;
INSERT INTO risk_scores_daily (day, band, track, bucket, feature, n, total)
SELECT (scored_at AT TIME ZONE 'UTC')::date, band, track, width_bucket(score, 0, 101, 10),
       coalesce(top_reasons -> 0 ->> 'feature', '(none)'), count(*), sum(score)
FROM risk_scores GROUP BY 1, 2, 3, 4, 5;
INSERT INTO interventions_daily (day, action, actionable, reason, n)
SELECT (created_at AT TIME ZONE 'UTC')::date, action, actionable,
       CASE WHEN actionable THEN '' ELSE coalesce(rule, CASE WHEN experiment_arm = 'CONTROL'
           THEN 'control_group' ELSE 'not_actionable' END) END, count(*)
FROM interventions GROUP BY 1, 2, 3, 4;
