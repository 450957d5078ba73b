"""Shared test set-up: figures draw off-screen and never pile up between tests."""

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no display in tests or CI

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def trained_fashion():
    """A small CNN trained for one epoch on 10,000 Fashion-MNIST images (a few seconds)."""
    from lesson08_support import train_small_fashion_cnn

    return train_small_fashion_cnn()


@pytest.fixture(scope="session")
def fashion_export(trained_fashion, tmp_path_factory):
    """``trained_fashion`` exported as version 1 under a model base path."""
    from course_lib import export

    base = tmp_path_factory.mktemp("export") / "fashion_cnn"
    return export.export_for_serving(trained_fashion.model, base,
                                     metadata={"class_names": trained_fashion.class_names})
