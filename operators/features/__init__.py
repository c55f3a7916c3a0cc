"""Market features: top of book, imbalance, microprice, volatility, regime, signal, toxicity."""
