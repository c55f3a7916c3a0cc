"""Parameter optimization: optuna studies over the compiled backtest, walk-forward, apply gate.

The loop the earlier bots ran by hand: record, reoptimize, apply only if better.
``space`` names what to search, ``objective`` scores a run, ``window`` loads a time
window once, ``evaluate`` runs one parameter set on it (the same simulation as
``mm backtest``), ``study`` drives optuna, ``walk`` rolls train/test windows, ``gate``
decides whether a live params file is replaced, ``history`` keeps trials and decisions
in the lake.
"""
