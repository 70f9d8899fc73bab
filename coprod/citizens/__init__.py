"""Citizens the collaboration serves, their consents, and the audit of who knew what."""
