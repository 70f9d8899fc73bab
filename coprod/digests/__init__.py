"""Learning digests: what a collaboration learned each period, built by workers."""
