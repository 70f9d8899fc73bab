"""Reflections: what works and what must improve, replies, reactions and actions."""
