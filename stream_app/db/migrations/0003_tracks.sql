-- Revision 3 of the output records: every score and intervention names its track
-- (PRE_DELINQUENCY: nothing past due; ARREARS: an amount past due) and the customer's current
-- days past due; arrears-track scores also carry their roll and cure probabilities. Rows of
-- earlier revisions get track 'UNKNOWN' and NULL in the other columns.
--
-- Each migration runs in its own transaction (stream_app/db/_migrations.py), so SET LOCAL
-- lasts until its commit. ALTER TABLE takes an ACCESS EXCLUSIVE lock: behind a long
-- transaction on the table (a report, an open psql session) it would wait for ever, and every
-- sink insert and API read would queue behind it. With the timeout the migration fails after
-- 5 s instead, changes nothing, and `predelinq migrate` can simply be run again.
SET LOCAL lock_timeout = '5s';

-- Adding a column with a constant default (and CHECKs that every existing row passes) is a
-- catalogue change plus one validating scan, not a table rewrite (PostgreSQL 11+).
ALTER TABLE risk_scores
    ADD COLUMN track            text NOT NULL DEFAULT 'UNKNOWN'
        CHECK (track IN ('PRE_DELINQUENCY', 'ARREARS', 'UNKNOWN')),
    ADD COLUMN days_past_due    integer CHECK (days_past_due >= 0),
    ADD COLUMN roll_probability double precision
        CHECK (roll_probability >= 0 AND roll_probability <= 1),
    ADD COLUMN cure_probability double precision
        CHECK (cure_probability >= 0 AND cure_probability <= 1);

ALTER TABLE interventions
    ADD COLUMN track            text NOT NULL DEFAULT 'UNKNOWN'
        CHECK (track IN ('PRE_DELINQUENCY', 'ARREARS', 'UNKNOWN')),
    ADD COLUMN days_past_due    integer CHECK (days_past_due >= 0);
