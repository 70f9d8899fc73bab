"""The installation's administration: accounts (deactivate, reactivate, their log-ins) and
the installation's settings, for administrators only (User.is_admin)."""
