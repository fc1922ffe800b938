"""Errors a user can cause, each with a message that says what, where and what to do.

The plugin turns any :class:`EmbedEvalError` raised during a test into a short
report holding only its message (see ``plugin.pytest_runtest_makereport``): the
user sees ``sts-dev.csv:12: score 'x' is not a number``, not a library traceback.
"""

from __future__ import annotations


class EmbedEvalError(Exception):
    """Base class: a problem with the user's input, files or environment."""


class DataError(EmbedEvalError):
    """An STS data file or data set that cannot be read as pairs with gold scores."""


class ModelError(EmbedEvalError):
    """A model id, alias or folder that cannot be resolved or loaded."""


class BaselineError(EmbedEvalError):
    """A baseline file that is unreadable, of another schema or of other data."""


class HubError(EmbedEvalError):
    """A model or data set that needs the Hugging Face hub when it cannot be reached."""
