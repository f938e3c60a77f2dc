"""``python -m stream_app.brokers``: run Apache Kafka on loopback (see apache_kafka)."""

import sys

from .apache_kafka import main

sys.exit(main())
