"""The service as the course's starting notes wrote it: ``model.predict`` on every request.

This is the benchmark's baseline, kept deliberately naive (no compiled call, no
batching, no checks): the same model file and the same preprocessing as the
course service, so the benchmark measures only how the model is called. It adds
a ``/health`` route so the benchmark can tell when it is up, and reads its
settings from two variables: ``BASELINE_MODEL`` (a ``.keras`` file saved with
``models.save_model``) and ``BASELINE_TOP_K``.
"""

import json
import os
from pathlib import Path

import keras
import numpy as np
from flask import Flask, jsonify, request
from PIL import Image

MODEL_PATH = Path(os.environ["BASELINE_MODEL"])
model = keras.models.load_model(MODEL_PATH)
metadata = json.loads(MODEL_PATH.with_suffix(".json").read_text())
class_names = metadata["class_names"]
prep = metadata["preprocessing"]

app = Flask(__name__)


@app.route("/health")
def health():
    return jsonify(status="ok")


@app.route("/predict", methods=["POST"])
def predict():
    file = request.files["file"]
    image = Image.open(file.stream)
    image = image.convert("L" if prep["color_mode"] == "grayscale" else "RGB")
    image = image.resize((prep["width"], prep["height"]), Image.Resampling.BILINEAR)
    x = np.array(image, dtype=np.float32) * np.float32(prep["scale"]) + np.float32(prep["offset"])
    x = x.reshape(1, prep["height"], prep["width"], -1)
    prediction = model.predict(
        x, verbose=0
    )  # the seed's call (minus its progress bar): a full predict loop
    probabilities = prediction[0]
    if metadata.get("outputs") == "logits":
        probabilities = np.exp(probabilities - probabilities.max())
        probabilities /= probabilities.sum()
    index = int(np.argmax(probabilities))
    return jsonify(
        label=class_names[index], class_index=index, confidence=float(probabilities[index])
    )
