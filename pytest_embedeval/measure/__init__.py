"""Layer 3, measure: data sets and the measurements themselves, as frozen result types.

Every result type carries its ``kind`` and the fields that identify it
(``IDENTITY``), names its JUnit figures (``JUNIT``) and its baseline entry
(``entry_key``); :data:`RESULT_TYPES` maps every kind to it: the accuracy kinds
of :data:`registry.KINDS`, then latency and memory.  Imports core and models only.
"""

from __future__ import annotations

from pytest_embedeval.measure.latency import LatencyResult
from pytest_embedeval.measure.memory import MemoryResult
from pytest_embedeval.measure.registry import KINDS

RESULT_TYPES = {**{kind.name: kind.result_type for kind in KINDS}, LatencyResult.KIND: LatencyResult,
                MemoryResult.KIND: MemoryResult}

__all__ = ["RESULT_TYPES", "LatencyResult", "MemoryResult"]
