"""The *naive* engine of bench/compare.py: the Faust agent one writes first.

Per event: decode with the project's decoder, read the customer's state from a faust Table,
apply the event with the project's feature code, write the state back, call CatBoost's
``predict`` on that one row and ``shap.TreeExplainer(...).shap_values`` on that one row (the
explainer is built once), and send a risk event. Same features, same model, same wire format
as the worker; none of its batching or precomputed SHAP table. No interventions, no absence
deadlines, no dead letters (bad input is skipped).

    python -m bench._naive --status FILE       (configuration from the environment, as the
                                                worker: KAFKA_*, TOPIC_*, MODEL_PATH,
                                                STATE_STORE_URL, STATE_DIR)

``FILE`` is rewritten every 0.1 s with ``{"consumed": N}`` (events the agent has taken).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._ceiling import write_status
from stream_app.events import InputEvent, RiskScore
from stream_app.features import FEATURE_NAMES
from stream_app.settings import Settings

__all__ = ["NaiveScorer", "main"]

TABLE_NAME = "naive-customer-state"


class NaiveScorer:
    """CatBoost and shap on one row at a time."""

    def __init__(self, model_path: str) -> None:
        import shap
        from catboost import CatBoostClassifier

        from model_registry import read_version
        from stream_app.policy import load_policy
        from stream_app.scoring import ArrearsAssessment, PlattCalibration, ScoreScale

        verified = read_version(Path(model_path))
        version = verified.version
        self.version = version.version
        self.model = CatBoostClassifier()
        self.model.load_model(blob=verified.model_bytes)
        self.calibration = PlattCalibration.from_metadata(version.metadata.get("calibration"))
        self.scale = ScoreScale.from_metadata(version.metadata.get("score_scale"))
        self.arrears = ArrearsAssessment.from_metadata(version.metadata.get("arrears_assessment"))
        self.explainer = shap.TreeExplainer(self.model)
        self.bands = load_policy(None).band_cutoffs

    def risk_event(self, event: InputEvent, topic: str, vector: list[float],
                   as_of: int) -> RiskScore:
        from stream_app.features import ARREARS, track_of
        from stream_app.processing import score_event_id, vector_sha256
        from stream_app.scoring import arrears_reasons, top_reasons

        row = np.asarray([vector], dtype=np.float64)
        raw = self.model.predict(row, prediction_type="RawFormulaVal")
        probability = float(self.calibration.apply(np.asarray(raw, dtype=np.float64))[0])
        contributions = np.asarray(self.explainer.shap_values(row), dtype=np.float64)
        track = track_of(vector)
        days_past_due = int(vector[FEATURE_NAMES.index("dpd_current")])
        roll = cure = None
        if track == ARREARS:  # the arrears track: the roll-rate table, rule reasons
            rolled, cured, _ = self.arrears.assess(row)
            roll, cure = float(rolled[0]), float(cured[0])
            probability = roll
            score = int(np.floor(roll * 100 + 0.5))
            reasons = arrears_reasons(self.arrears, row)[0]
        else:
            score = int(self.scale.scores(np.asarray([probability]))[0])
            reasons = top_reasons(contributions.reshape(1, -1), row)[0]
        return RiskScore(
            event_id=score_event_id(event.customer_id, topic, event.event_id, self.version),
            customer_id=event.customer_id,
            scored_at=int(time.time() * 1000),
            as_of=as_of,
            trigger_event_id=event.event_id,
            probability=probability,
            score=score,
            band=self.bands.band(score),
            model_version=self.version,
            top_reasons=reasons,
            trigger_topic=topic,
            features_sha256=vector_sha256(row[0]),
            track=track,
            days_past_due=days_past_due,
            roll_probability=roll,
            cure_probability=cure,
        )


def build_app(settings: Settings, status_path: Path) -> Any:
    import faust

    from stream_app.events import RecordType
    from stream_app.features import Applied, CustomerState, apply_event, feature_vector
    from stream_app.kafka import faust_broker_urls
    from stream_app.serializers import InputDecoder, InputError, OutputEncoder, SchemaCatalog

    scorer = NaiveScorer(settings.model_path)
    catalog = SchemaCatalog.default()
    decoder = InputDecoder(catalog, {
        settings.topic_transactions: RecordType.TRANSACTION,
        settings.topic_payments: RecordType.PAYMENT,
        settings.topic_customer_flags: RecordType.CUSTOMER_FLAGS,
    })
    encoder = OutputEncoder(catalog, settings.output_format.value)
    app = faust.App(
        settings.app_name,
        broker=faust_broker_urls(settings),
        store=settings.state_store_url,
        datadir=settings.state_dir,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
    )
    inputs = app.topic(*settings.input_topics, key_serializer="raw", value_serializer="raw",
                       partitions=settings.topic_partitions)
    scores = app.topic(settings.topic_risk_scores, key_serializer="raw",
                       value_serializer="raw")
    table = app.Table(TABLE_NAME, partitions=settings.topic_partitions, key_type=bytes,
                      value_type=bytes, default=None)
    consumed = [0]

    async def score_each(stream: Any) -> None:
        async for event in stream.events():
            consumed[0] += 1
            message = event.message
            try:
                decoded = decoder.decode(message.topic, message.value)
            except InputError:
                continue
            key = decoded.customer_id.encode()
            raw = table.get(key)
            state = CustomerState.from_bytes(raw) if raw else CustomerState()
            if apply_event(state, decoded) is not Applied.APPLIED:
                continue
            table[key] = state.to_bytes()
            vector = feature_vector(state, state.watermark)
            risk = scorer.risk_event(decoded, message.topic, vector, state.watermark)
            await scores.send(key=key, value=encoder.encode(RecordType.RISK_SCORE,
                                                            risk.to_record()))

    async def report() -> None:
        write_status(status_path, {"consumed": consumed[0]})

    app.agent(inputs, name="naive-score")(score_each)
    app.timer(0.1)(report)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--status", required=True, help="progress file the harness polls")
    args = parser.parse_args(argv)
    import faust

    from stream_app.settings import load_settings

    settings = load_settings()
    Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
    print(f"naive faust engine (pid {os.getpid()})", flush=True)
    app = build_app(settings, Path(args.status))
    worker = faust.Worker(app, loglevel="warning", redirect_stdouts=False)
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
