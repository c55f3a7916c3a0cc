"""Inventory, exact PnL and markouts."""
