"""Quote engine: desired bid/ask ladders from market view, inventory and risk."""
