"""The simulated venue: honest fills for replay backtests and paper trading.

``SimVenue`` (venue.py) is driven by the trader per recorded message; ``SimConfig``
(config.py) sets fees, latencies and the queue model (queue.py); latency.py maps
recorded receive times to venue times; view.py merges the BBO stream into the book.
"""

from connectors.sim.config import SimConfig, SimConfigError
from connectors.sim.state import SimOrder, SimStats
from connectors.sim.venue import SimVenue

__all__ = ["SimConfig", "SimConfigError", "SimOrder", "SimStats", "SimVenue"]
