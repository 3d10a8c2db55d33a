# The one image of our services (API, worker, sandbox gateway, setup job); docker-compose.yml runs it.
# Built only by `docker compose build`; this repository's tests never build it (no Docker engine in CI).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Run from the source tree: the Alembic versions folder is not a package and would not be installed.
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Only the `iot-billing` entry point; the code is used in place (PYTHONPATH).
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 app

USER app
EXPOSE 8000 8010
CMD ["iot-billing", "--help"]
