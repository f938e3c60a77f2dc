-- The outcome loop (issue 22): what happened after an intervention, as the CRM reports it on
-- intervention.outcomes.v1 (schemas/intervention_outcome.v1.avsc). Idempotent on event_id: a
-- re-delivered outcome is skipped by the sink's ON CONFLICT (event_id) DO NOTHING.
--
-- A new table only: no lock on risk_scores or interventions is taken. lock_timeout as in 0003
-- all the same (the runner sets it too), so that a later edit of this file cannot queue
-- behind a long transaction. IF NOT EXISTS: re-running the statements changes nothing.
-- intervention_id is not a foreign key: outcomes may arrive before the sink has stored their
-- intervention (two topics, no order between them), and the sink must never refuse them.
SET LOCAL lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS intervention_outcomes (
    event_id        text        PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 200),
    intervention_id uuid        NOT NULL,
    customer_id     text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('CONTACTED', 'REACHED',
                                                'ACCEPTED_PLAN', 'PAYMENT_MADE', 'COMPLAINT',
                                                'OPT_OUT')),
    channel         text,
    amount_minor    bigint      CHECK (amount_minor >= 0),
    schema_id       integer,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT intervention_outcomes_amount_only_for_payments
        CHECK (amount_minor IS NULL OR outcome = 'PAYMENT_MADE')
);
-- an intervention's outcomes (the uplift report, explain-decision); a customer's outcomes in
-- event-time order
CREATE INDEX IF NOT EXISTS intervention_outcomes_intervention
    ON intervention_outcomes (intervention_id);
CREATE INDEX IF NOT EXISTS intervention_outcomes_customer_occurred_at
    ON intervention_outcomes (customer_id, occurred_at);
