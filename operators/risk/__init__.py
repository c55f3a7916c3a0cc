"""Risk state machine and position protection."""
