"""Pure per-instrument state machines. Never import a connector; flows wire them."""
