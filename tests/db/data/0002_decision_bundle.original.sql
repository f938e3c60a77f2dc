-- Revision 2 of the output records: decision bundles and contact rules of interventions,
-- shadow (challenger) scores, and the wire schema id of every stored record (NULL for JSON).
ALTER TABLE interventions
    ADD COLUMN actionable           boolean            NOT NULL DEFAULT true,
    ADD COLUMN rule                 text,
    ADD COLUMN features             double precision[] NOT NULL DEFAULT '{}',
    ADD COLUMN feature_names_sha256 text,
    ADD COLUMN schema_id            integer;

ALTER TABLE risk_scores
    ADD COLUMN schema_id                integer,
    ADD COLUMN challenger_model_version text,
    ADD COLUMN challenger_score         smallint CHECK (challenger_score BETWEEN 0 AND 100);

-- Indexes: the API's reads are a customer's latest score and a customer's interventions,
-- newest first; risk_scores (customer_id, scored_at DESC) and interventions (customer_id,
-- created_at DESC) from 0001 serve both, and explain-decision reads by primary key. No other
-- index is added: each one slows every insert of the sink.
