"""Collaboration spaces: organizations, partners, members and the charter."""
