-- Revision 2 of the output records: decision bundles and contact rules of interventions,
-- shadow (challenger) scores, and the wire schema id of every stored record (NULL for JSON).
--
-- The runner sets lock_timeout for this transaction (stream_app/db/_migrations.py): behind a
-- long transaction on these tables the migration gives up instead of queueing every insert.
-- challenger_score's CHECK is added NOT VALID (no scan of risk_scores under the ACCESS
-- EXCLUSIVE lock; new rows are checked at once) and validated by 0004 in its own transaction,
-- which takes only a SHARE UPDATE EXCLUSIVE lock (inserts and reads go on meanwhile).
-- This file was edited after release 0002 shipped with the CHECK inline; the schema it leaves
-- is the same (same constraint name), and the runner accepts the original checksum
-- (_SUPERSEDED_CHECKSUMS), so databases migrated with the original text are not refused.
ALTER TABLE interventions
    ADD COLUMN actionable           boolean            NOT NULL DEFAULT true,
    ADD COLUMN rule                 text,
    ADD COLUMN features             double precision[] NOT NULL DEFAULT '{}',
    ADD COLUMN feature_names_sha256 text,
    ADD COLUMN schema_id            integer;

ALTER TABLE risk_scores
    ADD COLUMN schema_id                integer,
    ADD COLUMN challenger_model_version text,
    ADD COLUMN challenger_score         smallint;

ALTER TABLE risk_scores
    ADD CONSTRAINT risk_scores_challenger_score_check
        CHECK (challenger_score BETWEEN 0 AND 100) NOT VALID;

-- Indexes: the API's reads are a customer's latest score and a customer's interventions,
-- newest first; risk_scores (customer_id, scored_at DESC) and interventions (customer_id,
-- created_at DESC) from 0001 serve both, and explain-decision reads by primary key. No other
-- index is added: each one slows every insert of the sink.
