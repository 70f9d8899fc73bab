"""Entry point for `celery -A celery_worker worker|beat`: builds the app, exposes its Celery.

The only place a worker or beat process creates the Flask app; task modules never do.
"""

from coprod import create_app

flask_app = create_app()
app = celery_app = flask_app.extensions["celery"]
