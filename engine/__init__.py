"""The compiled per-message loop: the trader's operators and the simulated venue in one kernel.

``engine.loop`` composes the numba kernels that live beside each operator
(``operators/*/kernel.py``) and the simulated venue's (``connectors/sim/kernel.py``) into
the loop of :mod:`operators.trader`; ``engine.trader.CompiledTrader`` is its Python edge
with the reference Trader's interface. It sits above operators and connectors, as flows
do, so operators still never import a connector.
"""
