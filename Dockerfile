# Coprod's image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COPROD_INSTANCE_PATH=/app/instance

WORKDIR /app
RUN useradd --system --create-home --uid 10001 coprod

# The runtime dependencies first, pinned by requirements.lock (which also pins the test extra,
# not installed here), so a change of code does not reinstall them.
COPY requirements.lock pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/runtime.txt \
    && pip install -c requirements.lock -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt

# Editable install: migrations/ and celery_worker.py stay next to the package, as in a clone.
COPY . .
RUN pip install --no-deps -e . \
    && mkdir -p instance \
    && chown coprod:coprod instance

USER coprod
EXPOSE 8000
# Workers, threads, the port and the access log: gunicorn.conf.py, read from /app.
CMD ["gunicorn", "coprod:create_app()"]
