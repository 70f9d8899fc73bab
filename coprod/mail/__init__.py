"""Email: the outbox table, rendering and the sending task."""
