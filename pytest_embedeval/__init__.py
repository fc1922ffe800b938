"""pytest-embedeval: score, time and size embedding models inside pytest.

Importing this package stays cheap on purpose: torch, sentence-transformers,
datasets and scipy are imported only inside the functions that need them, so a
pytest run that uses no embed fixture pays nothing for the plugin.
"""

from __future__ import annotations

from pytest_embedeval.errors import EmbedEvalError

__version__ = "0.1.0"

__all__ = ["EmbedEvalError", "__version__"]
