# syntax=docker/dockerfile:1
# avisa in a container: `docker build -t avisa .` (see docs/deploy.md, "Containers").
#
# Stage 1 builds avisa's wheel and installs it, with its dependencies, into a venv at
# /opt/avisa. Every dependency ships a binary wheel for linux/amd64 and arm64 (psycopg's
# includes libpq), so no compiler or system library is needed. Stage 2 copies that venv
# onto the same slim base: no build tools, pip cache or sources in the final image.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps everything else out of the
# context, .env files and keys included).
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/avisa \
    && /opt/avisa/bin/pip install /wheels/avisa-*.whl

FROM ${PYTHON_IMAGE}
# A fixed uid/gid, so a bind-mounted data dir can be chowned to it on the host.
RUN groupadd --system --gid 10001 avisa \
    && useradd --system --uid 10001 --gid avisa --home-dir /var/lib/avisa \
        --no-create-home --shell /usr/sbin/nologin avisa \
    && install -d -o avisa -g avisa -m 0700 /var/lib/avisa
COPY --from=build /opt/avisa /opt/avisa
ENV PATH=/opt/avisa/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AVISA_DATA_DIR=/var/lib/avisa \
    AVISA_HOST=0.0.0.0 \
    AVISA_PORT=8000 \
    AVISA_LOG_FORMAT=json
USER avisa
WORKDIR /var/lib/avisa
# SQLite database, root key file (unless AVISA_ROOT_KEY/AVISA_ROOT_KEY_FILE point
# elsewhere) and the console provider's outbox.
VOLUME ["/var/lib/avisa"]
EXPOSE 8000
# avisa stops gracefully on SIGTERM; give it 30 s (docker stop --time 30, compose
# stop_grace_period: 30s): up to 10 s for runs in flight, then 10 s for sends in flight.
STOPSIGNAL SIGTERM
# Liveness of the HTTP side (`serve`). A `worker` container has no HTTP: run it with
# --no-healthcheck (compose: healthcheck: {disable: true}).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('AVISA_PORT', '8000'), timeout=4)"
ENTRYPOINT ["avisa"]
CMD ["serve"]
