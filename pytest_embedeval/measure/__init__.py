"""Layer 3, measure: data sets and the measurements themselves, as frozen result types.

Every result type carries its ``kind`` and the fields that identify it
(``IDENTITY``), names its JUnit figures (``JUNIT``) and its baseline entry
(``entry_key``); :data:`RESULT_TYPES` is the one list of kinds.  Imports core
and models only.
"""

from __future__ import annotations

from pytest_embedeval.measure.latency import LatencyResult
from pytest_embedeval.measure.memory import MemoryResult
from pytest_embedeval.measure.ranking import RetrievalResult
from pytest_embedeval.measure.sts import StsResult

RESULT_TYPES = {cls.KIND: cls for cls in (StsResult, LatencyResult, MemoryResult, RetrievalResult)}

__all__ = ["RESULT_TYPES", "LatencyResult", "MemoryResult", "RetrievalResult", "StsResult"]
