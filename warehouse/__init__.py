"""Parquet lake writers, importers, DuckDB analytics and reports. Uses every other layer."""
