"""Layer 5, report: records of a run, tables, JSON / Markdown / JUnit outputs and the trade-off picture.

Imports the layers below; never pytest.
"""
