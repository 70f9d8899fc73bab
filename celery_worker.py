"""Entry point for `celery -A celery_worker worker|beat`: builds the app, exposes its Celery."""

from coprod import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
