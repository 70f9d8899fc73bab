"""Accounts: users, invitations, log-in, password reset and personal access tokens."""
