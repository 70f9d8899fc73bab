"""The service map: activities in order, who performs them, which information flows where."""
