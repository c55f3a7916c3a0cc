"""Kafka as the recorded-data bus: topic naming, message codecs, Bytewax sources and sinks.

Built on kafka-python (the project's client; confluent-kafka is not a dependency), with
explicit partition assignment instead of consumer groups: Bytewax's recovery snapshots
hold the offsets, so a restarted flow resumes exactly where its last snapshot was.
"""
