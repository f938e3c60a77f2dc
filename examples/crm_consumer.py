"""A CRM-side consumer of predelinq's interventions, with confluent-kafka, exactly once.

Reads ``risk.interventions.v1`` with ``isolation.level=read_committed`` (only interventions of
committed worker transactions) and writes each one into a table together with the consumer's
next offset, in one database transaction. After a crash it resumes from the stored offsets, not
Kafka's committed ones, so every intervention lands once; the primary key on
``intervention_id`` also absorbs the at-least-once worker's re-deliveries (same id, same bytes).
Values are Confluent-framed Avro: the writer schema comes from ``schemas/registry.json`` (or a
schema registry). Usage:

    python examples/crm_consumer.py BOOTSTRAP_SERVERS crm.sqlite3 [TOPIC] [--once]
"""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import sys
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Consumer, TopicPartition

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def writer_schemas() -> dict[int, Any]:
    """Schema id -> parsed writer schema, for every id in the local registry mapping."""
    registry = json.loads((SCHEMAS / "registry.json").read_text())
    return {entry["id"]: fastavro.parse_schema(json.loads((SCHEMAS / entry["file"]).read_text()))
            for versions in registry["subjects"].values() for entry in versions}


def decode(value: bytes, schemas: dict[int, Any]) -> dict[str, Any]:
    magic, schema_id = struct.unpack(">bI", value[:5])
    if magic != 0:
        raise ValueError("not a Confluent-framed Avro record")
    record = fastavro.schemaless_reader(io.BytesIO(value[5:]), schemas[schema_id])
    if not isinstance(record, dict):
        raise ValueError("an intervention is an Avro record")
    return record


def open_table(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE IF NOT EXISTS interventions (
            intervention_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, action TEXT NOT NULL,
            channel TEXT NOT NULL, track TEXT, score INTEGER NOT NULL, actionable INTEGER NOT NULL,
            reasons TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS consumer_offsets (
            topic TEXT, partition INTEGER, next_offset INTEGER, PRIMARY KEY (topic, partition));
    """)
    return db


def run(bootstrap: str, db_path: str, topic: str = "risk.interventions.v1", *,
        once: bool = False) -> int:
    """Consume until interrupted (``once``: until a poll finds nothing); returns rows written."""
    db, schemas, written = open_table(db_path), writer_schemas(), 0

    def resume(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:  # the offsets stored with the rows, not Kafka's
            row = db.execute("SELECT next_offset FROM consumer_offsets WHERE topic=? AND "
                             "partition=?", (tp.topic, tp.partition)).fetchone()
            tp.offset = row[0] if row else -2  # -2: the beginning
        consumer.assign(partitions)

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "crm-interventions",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic], on_assign=resume)
    try:
        while True:
            messages = consumer.consume(num_messages=500, timeout=2.0)
            if not messages and once and consumer.assignment():
                return written
            with db:  # the rows and the next offsets commit together
                for message in messages:
                    value, offset = message.value(), message.offset()
                    if message.error() is not None or value is None or offset is None:
                        continue
                    i = decode(value, schemas)
                    written += db.execute(
                        "INSERT OR IGNORE INTO interventions VALUES (?,?,?,?,?,?,?,?,?)",
                        (i["intervention_id"], i["customer_id"], i["action"], i["channel"],
                         i.get("track"), i["score"], int(i.get("actionable", True)),
                         json.dumps([r["code"] for r in i["reasons"]]), i["created_at"]),
                    ).rowcount
                    db.execute("INSERT OR REPLACE INTO consumer_offsets VALUES (?,?,?)",
                               (message.topic(), message.partition(), offset + 1))
    finally:
        consumer.close()
        db.close()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--once"]
    if len(args) not in (2, 3):
        sys.exit(__doc__)
    print(run(*args, once="--once" in sys.argv), "interventions written")
