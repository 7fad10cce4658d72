"""skyflock: a federated batch and workflow system built on ClassAd matchmaking."""

__version__ = "0.1.0"
