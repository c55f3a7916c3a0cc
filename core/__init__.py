"""Vocabulary shared by every layer: instruments, events, tick/lot maths, config, lake layout."""
