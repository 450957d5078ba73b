"""Each plot draws one figure with the content it promises."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plots


def test_show_images_draws_a_grid_with_titles_and_hides_spare_axes():
    images = [np.zeros((8, 8), np.uint8)] * 5 + [np.zeros((8, 8, 3), np.uint8)]
    plots.show_images(images, titles=list("abcdef"), ncols=4)
    fig = plt.gcf()
    assert len(plt.get_fignums()) == 1
    assert len(fig.axes) == 8  # 2 rows x 4 columns
    assert [ax.get_title() for ax in fig.axes[:6]] == list("abcdef")
    assert sum(bool(ax.images) for ax in fig.axes) == 6


def test_show_images_keeps_grayscale_dark_images_dark():
    plots.show_images([np.full((4, 4), 10, np.uint8)])
    image = plt.gcf().axes[0].images[0]
    assert image.get_clim() == (0, 255) and image.get_cmap().name == "gray"


def test_show_images_background_colours_the_figure_behind_the_images():
    plots.show_images([np.full((4, 4, 3), 255, np.uint8)], background="0.8")
    assert plt.gcf().get_facecolor() == pytest.approx((0.8, 0.8, 0.8, 1.0))
    plt.close("all")
    plots.show_images([np.full((4, 4, 3), 255, np.uint8)])
    assert plt.gcf().get_facecolor() == pytest.approx((1.0, 1.0, 1.0, 1.0))


def test_show_images_rejects_mismatched_titles_and_bad_shapes():
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        plots.show_images([np.zeros((2, 2))] * 2, titles=["a"])
    with pytest.raises(ValueError, match="shape"):
        plots.show_images([np.zeros((2, 2, 2, 2))])


def test_pixel_histogram_has_one_line_per_channel_counting_every_pixel():
    rgb = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    plots.plot_pixel_histogram(rgb, bins=16)
    ax = plt.gcf().axes[0]
    assert [p.get_label() for p in ax.patches] == ["red", "green", "blue"]
    for patch in ax.patches:
        assert patch.get_data().values.sum() == 120


def test_pixel_histogram_of_grayscale_has_one_line():
    plots.plot_pixel_histogram(np.zeros((5, 5), np.uint8))
    assert len(plt.gcf().axes[0].patches) == 1


def test_class_counts_bars_match_the_labels():
    plots.plot_class_counts(np.array([0, 1, 1, 2, 2, 2]), ["a", "b", "c"])
    heights = [bar.get_height() for bar in plt.gcf().axes[0].patches]
    assert heights == [1, 2, 3]
