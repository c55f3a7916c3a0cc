-- Runs once, when the postgres-data volume is first created. The "optuna" database is
-- created by POSTGRES_DB; the Prefect server gets its own database.
CREATE DATABASE prefect OWNER mm;
