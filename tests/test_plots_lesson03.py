"""Lesson 03 plots: feature maps and convolution filters."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plots


def test_feature_maps_draw_one_panel_per_channel_with_its_own_scale():
    maps = np.random.default_rng(0).random((6, 7, 5))
    maps[..., 1] *= 100
    plots.plot_feature_maps(maps, ncols=3, title="conv")
    fig = plt.gcf()
    assert len(plt.get_fignums()) == 1 and len(fig.axes) == 6
    drawn = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in drawn] == ["0", "1", "2", "3", "4"]
    np.testing.assert_array_equal(drawn[1].images[0].get_array(), maps[..., 1])
    assert drawn[1].images[0].get_clim()[1] > 10 > drawn[0].images[0].get_clim()[1]
    assert fig._suptitle.get_text() == "conv"


def test_feature_maps_accept_a_batch_of_one_and_a_limit():
    plots.plot_feature_maps(np.zeros((1, 4, 4, 10)), max_maps=4, ncols=8)
    assert sum(bool(ax.images) for ax in plt.gcf().axes) == 4
    with pytest.raises(ValueError, match="channels"):
        plots.plot_feature_maps(np.zeros((4, 4)))


def test_filters_show_sign_on_a_symmetric_scale():
    kernels = np.zeros((3, 3, 1, 2))
    kernels[:, 0, 0, 0], kernels[:, 2, 0, 0] = -1, 2
    kernels[1, 1, 0, 1] = 0.5
    plots.plot_filters(kernels, titles=["edge", "dot"])
    axes = [ax for ax in plt.gcf().axes if ax.images]
    assert [ax.get_title() for ax in axes] == ["edge", "dot"]
    assert axes[0].images[0].get_clim() == (-2, 2)
    assert axes[0].images[0].get_cmap().name == "RdBu_r"
    np.testing.assert_array_equal(axes[0].images[0].get_array(), kernels[..., 0, 0])


def test_filters_draw_rgb_kernels_in_colour_and_reject_other_layouts():
    plots.plot_filters(np.random.default_rng(1).normal(size=(5, 5, 3, 4)), ncols=2)
    axes = [ax for ax in plt.gcf().axes if ax.images]
    assert len(axes) == 4 and axes[0].images[0].get_array().shape == (5, 5, 3)
    with pytest.raises(ValueError, match="kh, kw"):
        plots.plot_filters(np.zeros((3, 3, 8, 4)))
    with pytest.raises(ValueError, match="titles"):
        plots.plot_filters(np.zeros((3, 3, 1, 2)), titles=["a"])
