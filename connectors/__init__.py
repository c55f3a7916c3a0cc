"""The edges of the system: venue codecs, loaders, sources and sinks. Depends on core only."""
