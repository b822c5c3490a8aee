"""The project's claim, in one place: `custom` beats the CNN of Frank et al. 2020 (`paper`) as `custom - paper`.
evaluate and evaluate_attribution put its interval first, the report's verdicts read it."""

from __future__ import annotations

CLAIM = ("custom", "paper")
