"""Quality reports: held-out evaluation, cross-validation and pipeline comparison.

`make eval` runs `tools.eval` (the held-out set through the real stack) and
`tools.quality.crossval` (Rasa's cross-validation split per language); both write
their figures to docs/quality/*.json and re-render docs/quality.md from them.
"""
