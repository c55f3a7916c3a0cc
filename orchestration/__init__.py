"""Prefect flows and schedules: recording, nightly reoptimization (optuna) and reports.

Each Prefect flow wraps the same functions the `mm` commands call, so a scheduled job
and a command run the same code.
"""
