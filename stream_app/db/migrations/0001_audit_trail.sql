-- The audit trail: every published risk score and intervention, idempotent on its event id.
CREATE TABLE risk_scores (
    event_id          uuid PRIMARY KEY,
    customer_id       text        NOT NULL,
    scored_at         timestamptz NOT NULL,
    as_of             timestamptz NOT NULL,
    trigger_event_id  text        NOT NULL,
    trigger_topic     text,
    probability       double precision NOT NULL CHECK (probability >= 0 AND probability <= 1),
    score             smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
    band              text        NOT NULL,
    model_version     text        NOT NULL,
    top_reasons       jsonb       NOT NULL,
    features_sha256   text,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_scores_customer_scored_at ON risk_scores (customer_id, scored_at DESC);

CREATE TABLE interventions (
    intervention_id   uuid PRIMARY KEY,
    customer_id       text        NOT NULL,
    created_at        timestamptz NOT NULL,
    action            text        NOT NULL,
    channel           text        NOT NULL,
    priority          text        NOT NULL,
    score             smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
    band              text        NOT NULL,
    reasons           jsonb       NOT NULL,
    model_version     text        NOT NULL,
    policy_version    text        NOT NULL,
    expires_at        timestamptz NOT NULL,
    trigger_event_id  text        NOT NULL,
    experiment_arm    text        NOT NULL CHECK (experiment_arm IN ('TREATMENT', 'CONTROL')),
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interventions_customer_created_at ON interventions (customer_id, created_at DESC);
