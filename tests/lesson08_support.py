"""A small Fashion-MNIST CNN trained once per test session, for the export and TFLite tests."""

from dataclasses import dataclass

import numpy as np


@dataclass
class TrainedFashion:
    model: object
    x_train: np.ndarray  # float32 model input, (n, 28, 28, 1) in [0, 1]
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list


def train_small_fashion_cnn() -> TrainedFashion:
    from course_lib import data, models, training

    training.set_seed(0)
    fashion = data.load_fashion_mnist(subset=1000)  # 10,000 training images: one epoch reaches ~0.8
    prep = models.preprocessing_for((28, 28, 1))
    x_train = models.as_model_input(fashion.x_train, prep)
    x_test = models.as_model_input(fashion.x_test, prep)
    model = models.build_baseline_cnn((28, 28, 1), fashion.num_classes)
    model.compile(optimizer="adam", loss=training.LOSS, metrics=list(training.METRICS))
    model.fit(x_train, fashion.y_train, epochs=1, batch_size=64, verbose=0)
    return TrainedFashion(model, x_train, x_test, fashion.y_test, fashion.class_names)
