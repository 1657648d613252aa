# dmbot serve in a container: slim, non-root, healthy when /healthz says so.
#
#   docker build -t dmbot .
#   docker run --env-file .env -p 8000:8000 -v dmbot-data:/data dmbot
#
# The bot and config.yaml are the repository's unless you mount your own
# (-v ./mybot:/app/bots -v ./config.yaml:/app/config.yaml). Secrets come from
# the environment (config.yaml reads ${TWITTER_CONSUMER_KEY} and the others).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Listen on every interface inside the container; the SQLite store on the volume.
    DMBOT_HOST=0.0.0.0 \
    DMBOT_PORT=8000 \
    DMBOT_STORE=sqlite:////data/dmbot.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY dmbot ./dmbot
RUN pip install '.[redis]' \
    && useradd --create-home --uid 10001 dmbot \
    && mkdir /data && chown dmbot /data
COPY bots ./bots
COPY config.yaml ./

USER dmbot
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"DMBOT_PORT\", \"8000\")}/healthz', timeout=2).status == 200 else 1)"
CMD ["dmbot", "serve"]
