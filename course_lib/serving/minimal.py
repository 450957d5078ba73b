"""The smallest useful web service for an image classifier: one Flask route.

:func:`create_minimal_app` is what lesson 07 has students write first. The
course service (:func:`course_lib.serving.create_app`) is this app plus the
hardening the lesson measures one by one: upload and pixel limits checked
before decoding, a compiled model call, micro-batching, gunicorn workers that
load the model after the fork, and a SQLite store for history and feedback.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from flask import Flask, jsonify, request
from PIL import Image


def create_minimal_app(model: Any, class_names: list[str], preprocessing: dict[str, Any]) -> Flask:
    """A Flask app whose ``POST /predict`` takes an image in the form field ``file``, answers JSON.

    Taught in lesson 07. The answer is ``{"label": ..., "class_index": ..., "confidence": ...}``;
    a request without a file, or with a file Pillow cannot read, gets status 400 and
    ``{"error": reason}``. ``preprocessing`` is the record saved with a course model
    (``height``, ``width``, ``color_mode``, ``scale``, ``offset``).
    """
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        upload = request.files.get(
            "file"
        )  # uploads arrive in request.files; request.form holds text fields
        if upload is None:
            return jsonify(error="send the image in the form field 'file'"), 400
        try:
            image = Image.open(io.BytesIO(upload.read()))
            image = image.convert("L" if preprocessing["color_mode"] == "grayscale" else "RGB")
            image = image.resize(
                (preprocessing["width"], preprocessing["height"]), Image.Resampling.BILINEAR
            )
        except OSError:  # not an image (UnidentifiedImageError is an OSError), empty or truncated
            return jsonify(error="the file is not an image Pillow can read"), 400
        pixels = (
            np.asarray(image, dtype=np.float32) * preprocessing["scale"] + preprocessing["offset"]
        )
        x = pixels.reshape(1, preprocessing["height"], preprocessing["width"], -1)  # a batch of one
        probabilities = np.asarray(model(x, training=False))[0]
        best = int(probabilities.argmax())
        # jsonify cannot serialise NumPy numbers: hand it Python's int and float
        return jsonify(
            label=class_names[best], class_index=best, confidence=float(probabilities[best])
        )

    return app
