"""The one exception type of the experiment, so the CLI can tell bad input from bugs."""

from __future__ import annotations


class JitqError(ValueError):
    """Bad input to the experiment: an unknown preset, an invalid key, a format the recipe cannot use."""
