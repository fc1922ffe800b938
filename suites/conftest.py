"""The bundled suites need nothing but the plugin: this file only documents them.

    pytest suites --embed-models=minilm --embed-sts-path=PATH [--embed-models=minilm,mpnet ...]

Budgets come from options or the ini (``--embed-min-spearman``, ``--embed-max-p95-ms``,
``--embed-max-peak-mb``, one value or ``MODEL=VALUE,...``) and regressions from the
baselines in ``baselines/``; nothing is hard-coded here.
"""
