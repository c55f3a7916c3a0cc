"""Replay sources: recorded data from the Parquet lake (or Kafka) as event batches."""
