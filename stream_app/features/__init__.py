"""The feature engine: customer state + event -> new state; state -> feature vector.

Pure (no Kafka, no I/O). The Faust worker and the offline replay call exactly this code, so the
features a model was trained on are the features it is served with. ``FEATURE_CODE_SHA256``
fingerprints this package's source; a model records it and the worker refuses a model trained
on another feature list.
"""

import hashlib
from pathlib import Path

from ._catalogue import ARREARS_NOW, FEATURE_NAMES, FEATURES, FeatureSpec, feature_index
from ._deadlines import Deadline, DeadlineIndex, DueDeadline, next_deadline
from ._state import (
    DAY_MS,
    HORIZON_WEEKS,
    LATENESS_MS,
    MAX_DEDUP_IDS,
    CustomerState,
    StateFormatError,
)
from ._texts import reason_text
from ._track import ARREARS, PRE_DELINQUENCY, TRACKS, in_arrears, track_of
from ._update import Applied, apply_event, event_key
from ._vector import feature_vector


def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


FEATURE_CODE_SHA256 = _code_fingerprint()

__all__ = [
    "ARREARS",
    "ARREARS_NOW",
    "DAY_MS",
    "FEATURES",
    "FEATURE_CODE_SHA256",
    "FEATURE_NAMES",
    "HORIZON_WEEKS",
    "LATENESS_MS",
    "MAX_DEDUP_IDS",
    "PRE_DELINQUENCY",
    "TRACKS",
    "Applied",
    "CustomerState",
    "Deadline",
    "DeadlineIndex",
    "DueDeadline",
    "FeatureSpec",
    "StateFormatError",
    "apply_event",
    "event_key",
    "feature_index",
    "feature_vector",
    "in_arrears",
    "next_deadline",
    "reason_text",
    "track_of",
]
