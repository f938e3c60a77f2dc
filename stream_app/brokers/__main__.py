"""``python -m stream_app.brokers``: run a single-node Apache Kafka broker (see apache_kafka)."""

import sys

from .apache_kafka import main

sys.exit(main())
