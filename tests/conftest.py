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
