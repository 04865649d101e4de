"""Implementations of the domain's ports: store settings, clock, transcoding."""
