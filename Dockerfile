# The classifier service (`make serve`) in a container.
#
#   docker build -t course-serve .
#   docker run --rm -p 127.0.0.1:8000:8000 -v course-data:/data \
#       -e COURSE_SERVE_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe())')" course-serve
#
# Inside the container the service listens on every interface (or -p could not reach it), so it
# refuses to start without COURSE_SERVE_TOKEN: the routes that hand out or delete uploaded photos
# (/history/<id>/image, /history/<id>/original, DELETE /history/<id>/image, /feedback.csv) ask
# for "Authorization: Bearer <token>". Predicting, the page and /health need no token.
#
# It serves the ImageNet EfficientNet-Lite0 by default (its weights come with a Python
# package: no download at start), run by LiteRT as `make serve` does (COURSE_SERVE_RUNTIME=auto;
# =keras runs it on Keras). The first start converts the model to .tflite, which takes a minute
# or two and is kept in /data/litert, so later starts reuse it. To serve a model folder saved
# by lesson 09, mount it:
#
#   docker run --rm -p 127.0.0.1:8000:8000 -v course-data:/data -e COURSE_SERVE_TOKEN=... \
#       -v "$(pwd)/build/lesson09/models:/models:ro" \
#       -e COURSE_SERVE_MODEL=/models/photo_classifier/1 course-serve
#
# (COURSE_SERVE_MODEL=/models/photo_classifier, the folder of numbered versions, serves the
# promoted version and follows promotions and rollbacks without a restart. Each version's
# .tflite goes beside its model.keras, or to /data/litert when /models is mounted read-only.)
# Or bake it in with `COPY build/lesson09/models /models` below (and remove `build`
# from .dockerignore). Every COURSE_SERVE_* variable of README's table works with -e.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The exact versions CI tests, installed before the code so that code changes reuse this layer.
COPY requirements/lock.txt requirements/lock.txt
RUN python -m pip install -r requirements/lock.txt
COPY pyproject.toml README.md ./
COPY course_lib course_lib
RUN python -m pip install --no-deps . \
    && useradd --create-home --uid 10001 course \
    && mkdir -p /data /models \
    && chown course /data

# Predictions and feedback go to /data (a volume, so they survive the container).
# Inside the container the service listens on every interface, or -p could not reach it;
# publish it on the host's loopback (-p 127.0.0.1:8000:8000) unless you mean to share it.
ENV COURSE_SERVE_MODEL=imagenet \
    COURSE_SERVE_DB=/data/predictions.sqlite3 \
    COURSE_SERVE_HOST=0.0.0.0 \
    COURSE_SERVE_PORT=8000
VOLUME ["/data"]
USER course
EXPOSE 8000

# /health answers 503 while the model loads (and, on the first start, converts): give it time.
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-m", "course_lib.serving.healthcheck"]

# What `make serve` runs: gunicorn with course_lib/serving/gunicorn_conf.py's settings.
CMD ["python", "-m", "course_lib.serving"]
