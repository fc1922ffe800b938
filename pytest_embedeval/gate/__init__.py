"""Layer 4, gate: policy (tolerances, budgets), statistics, typed baseline entries, the store, verdicts, acceptance.

No pytest here: the plugin layer turns verdicts into test outcomes.  Imports
core, models and measure only.
"""
