"""One retraining round: feedback rows become training photos, the new version is compared with
the served one on a fixed holdout and promoted only by the stated rule; the command line says
what is wrong with bad arguments instead of a traceback."""

import json
import shutil
import warnings

import numpy as np
import pytest
from retrain_support import (
    CLASSES,
    feedback_row,
    labelled_rows,
    photo_bytes,
    photo_folder,
    store_feedback,
    tiny_model_root,
)

from course_lib import photos, retrain, versions
from course_lib.tools import cli


@pytest.fixture
def setup(tmp_path):
    """An untrained served version 1, original training photos and a holdout folder."""
    root = tiny_model_root(tmp_path / "models" / "tiny")
    return (
        root,
        photo_folder(tmp_path / "train", 6, seed=1),
        photo_folder(tmp_path / "holdout", 15, seed=2),
    )


def test_feedback_rows_give_the_confirmed_or_corrected_label_and_skip_the_rest_by_name():
    rng = np.random.default_rng(0)
    rows = [
        feedback_row(1, photo_bytes("red", rng), "red", True),  # confirmed: train as red
        feedback_row(2, photo_bytes("blue", rng), "red", False, "blue"),  # corrected: train as blue
        feedback_row(3, photo_bytes("red", rng), "blue", False, None),  # "wrong", no label given
        feedback_row(
            4, photo_bytes("red", rng), "blue", False, "crimson"
        ),  # not a class of the model
        feedback_row(5, None, "red", True),  # image removed by retention
        feedback_row(6, photo_bytes("red", rng)[:80], "red", True),
    ]  # an upload cut short
    with pytest.warns(UserWarning) as caught:
        found = retrain.feedback_examples(rows, CLASSES)
    assert found.labels == [CLASSES.index("red"), CLASSES.index("blue")]
    assert found.names == ["feedback on prediction 1", "feedback on prediction 2"]
    assert all(image.dtype == np.uint8 and image.shape[2] == 3 for image in found.images)
    messages = [str(w.message) for w in caught]
    assert [name for name, _ in found.skipped] == [
        f"feedback on prediction {i}" for i in (3, 4, 5, 6)
    ]
    assert any("prediction 3" in m and "without a correct label" in m for m in messages)
    assert any("prediction 4" in m and "'crimson'" in m for m in messages)
    assert any("prediction 5" in m and "not kept" in m for m in messages)
    assert any("prediction 6" in m and "could not be decoded" in m for m in messages)


def test_feedback_images_are_decoded_as_photo_files_are(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "x.jpg"
    path.write_bytes(photo_bytes("red", rng, fmt="JPEG"))
    found = retrain.feedback_examples([feedback_row(1, path.read_bytes(), "red", True)], CLASSES)
    np.testing.assert_array_equal(found.images[0], photos.read_photo(path))


def test_a_class_folder_the_model_does_not_know_is_skipped_with_a_warning(tmp_path):
    folder = photo_folder(tmp_path / "photos", 2, seed=0)
    (folder / "green").mkdir()
    (folder / "green" / "a.png").write_bytes(photo_bytes("red", np.random.default_rng(0)))
    (folder / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.warns(UserWarning, match="green"):
        found = retrain.read_folder(folder, CLASSES)
    assert len(found.images) == 4
    assert {name.rstrip("/").split("/")[-1] for name, _ in found.skipped} == {"green", "broken.png"}
    assert any("broken.png" in name for name, _ in found.skipped)


def test_a_feedback_image_that_is_a_holdout_photo_stops_the_round(setup):
    root, train, holdout = setup
    leaked = (holdout / "red" / "003.png").read_bytes()
    rows = [*labelled_rows(3, seed=5), feedback_row(99, leaked, "blue", False, "red")]
    with pytest.raises(
        ValueError, match=r"holdout photos, byte for byte \(feedback on prediction 99 = .*003\.png"
    ):
        retrain.retrain(root, rows, train, holdout, epochs=1)
    assert versions.list_versions(root) == [1]  # nothing written


def test_no_usable_feedback_is_a_clear_error(setup):
    root, train, holdout = setup
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="none of the 1 feedback rows can be trained on"):
            retrain.retrain(root, [feedback_row(1, None, "red", True)], train, holdout)


def test_the_holdout_comparison_counts_both_versions_and_brackets_the_difference():
    y = np.array([0] * 40 + [1] * 40)
    old = y.copy()
    old[:20] = 1  # the served version misses 20 photos
    new = y.copy()
    new[:4] = 1  # the new one misses 4 of those 20 ...
    new[60:62] = 0  # ... and 2 the served one got right
    result = retrain.compare_on_holdout(y, old, new, seed=0)
    assert (result.old_correct, result.new_correct, result.n) == (60, 74, 80)
    assert (result.only_old_right, result.only_new_right) == (2, 16)
    assert result.difference == pytest.approx(14 / 80)
    low, high = result.interval
    assert 0 < low < result.difference < high < 1
    assert result.p_value < 0.01
    same = retrain.compare_on_holdout(y, old, old)
    assert same.interval == (0.0, 0.0) and same.p_value == 1.0


def test_the_rule_promotes_a_tie_and_refuses_one_photo_fewer():
    def comparison(old_correct, new_correct):
        return retrain.HoldoutComparison(50, old_correct, new_correct, 0, 0, (0.0, 0.0), 1.0)

    assert retrain.should_promote(comparison(40, 40))
    assert retrain.should_promote(comparison(40, 41))
    assert not retrain.should_promote(comparison(40, 39))


@pytest.fixture(scope="module")
def better_round(tmp_path_factory):
    """One round on good feedback from a fresh setup, shared: (root, train, holdout, result).

    Tests that go on from it work on a copy of ``root``.
    """
    folder = tmp_path_factory.mktemp("better")
    root = tiny_model_root(folder / "models" / "tiny")
    train = photo_folder(folder / "train", 6, seed=1)
    holdout = photo_folder(folder / "holdout", 15, seed=2)
    result = retrain.retrain(
        root, labelled_rows(10, seed=3), train, holdout, epochs=40, learning_rate=0.05
    )
    return root, train, holdout, result


def test_a_better_version_is_written_promoted_and_recorded(better_round):
    root, train, holdout, result = better_round
    assert (result.old_version, result.new_version) == (1, 2)
    assert result.n_original == 12 and result.n_feedback == 20
    assert result.promoted and result.reason.startswith("promoted: holdout")
    assert "promoted: promoted" not in result.summary()
    assert result.comparison.new_correct >= result.comparison.old_correct
    assert result.comparison.new_accuracy > 0.9  # the colours are easy once trained
    assert versions.served_version(root) == 2
    record = json.loads((root / versions.SERVING_FILE).read_text())
    assert record["history"] == [1, 2] and record["reason"] == result.reason
    model, metadata = photos.load_photo_model(root / "2")
    assert metadata["class_names"] == CLASSES and metadata["retrained_from"] == 1
    assert not [p for p in root.iterdir() if p.name.startswith(".incoming")]
    assert (
        f"{result.comparison.new_correct}/30" in result.summary()
        and retrain.PROMOTION_RULE in result.summary()
    )


def test_the_same_feedback_and_seed_give_the_same_version_whatever_ran_before(setup):
    import keras

    root, train, holdout = setup
    rows = labelled_rows(5, seed=3)
    first = retrain.retrain(
        root, rows, train, holdout, epochs=3, learning_rate=0.05, seed=7, promote=False
    )
    keras.utils.set_random_seed(123)  # other work in between moves the global random state
    np.random.default_rng().random(10)
    second = retrain.retrain(
        root, rows, train, holdout, epochs=3, learning_rate=0.05, seed=7, promote=False
    )
    a, b = (photos.load_photo_model(root / str(r.new_version))[0] for r in (first, second))
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(first.new_predictions, second.new_predictions)


def test_a_worse_version_is_written_but_not_promoted_and_the_served_one_stays(
    better_round, tmp_path
):
    shared_root, train, holdout, good = better_round
    root = shutil.copytree(shared_root, tmp_path / "tiny")  # version 2 promoted from good rows
    assert good.promoted
    # wrong corrections only, many of them: every photo taught as the other colour
    bad = retrain.retrain(
        root, labelled_rows(30, seed=4, flip=True), train, holdout, epochs=40, learning_rate=0.05
    )
    assert bad.old_version == 2 and bad.new_version == 3
    assert bad.comparison.new_correct < bad.comparison.old_correct
    assert not bad.promoted
    assert (
        bad.reason.startswith("fewer photos right on the holdout")
        and "version 2 stays served" in bad.reason
    )
    assert versions.list_versions(root) == [1, 2, 3]
    assert versions.served_version(root) == 2


def test_an_unpromoted_version_is_not_served_even_when_no_version_was_promoted_before(setup):
    root, train, holdout = setup
    assert not (root / versions.SERVING_FILE).exists()  # version 1 served as the highest
    result = retrain.retrain(
        root, labelled_rows(5, seed=3), train, holdout, epochs=1, promote=False
    )
    assert result.new_version == 2 and not result.promoted
    assert versions.served_version(root) == 1  # pinned before version 2 was written


def test_retrain_command_rejects_bad_paths_without_a_traceback(setup, tmp_path, capsys):
    root, train, holdout = setup
    assert (
        cli.main(
            ["retrain", str(tmp_path / "nowhere"), "--train", str(train), "--holdout", str(holdout)]
        )
        == 2
    )
    assert "is not a model folder" in capsys.readouterr().err
    assert (
        cli.main(
            ["retrain", str(root), "--train", str(tmp_path / "none"), "--holdout", str(holdout)]
        )
        == 2
    )
    assert "--train" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "retrain",
                str(root),
                "--train",
                str(train),
                "--holdout",
                str(holdout),
                "--db",
                str(tmp_path / "missing.sqlite3"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "no prediction database" in err and "Traceback" not in err
    assert (
        cli.main(
            [
                "retrain",
                str(root),
                "--train",
                str(train),
                "--holdout",
                str(holdout),
                "--epochs",
                "0",
            ]
        )
        == 2
    )


def test_retrain_command_reads_the_service_database_and_prints_the_decision_with_its_numbers(
    setup, tmp_path, capsys
):
    from course_lib.serving import PredictionStore

    root, train, holdout = setup
    store = PredictionStore(tmp_path / "predictions.sqlite3")
    store_feedback(store, labelled_rows(10, seed=3))
    store.close()
    assert (
        cli.main(
            [
                "retrain",
                str(root),
                "--train",
                str(train),
                "--holdout",
                str(holdout),
                "--db",
                str(tmp_path / "predictions.sqlite3"),
                "--epochs",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "20 feedback rows" in out and "version 2 trained from version 1" in out
    assert "95% interval" in out and retrain.PROMOTION_RULE in out
    decision = out.strip().splitlines()[-1]
    assert decision.startswith("promoted: holdout") == (versions.served_version(root) == 2)
    assert decision.startswith(
        ("promoted: holdout", "written, not promoted: fewer photos right on the holdout")
    )


def test_rollback_command_says_when_there_is_nothing_to_go_back_to(setup, capsys):
    root, _, _ = setup
    assert cli.main(["rollback", str(root)]) == 1
    assert "no earlier served version" in capsys.readouterr().err
    photos.save_photo_model(photos.load_photo_model(root / "1")[0], root / "2", CLASSES)
    versions.promote(root, 1)
    versions.promote(root, 2)
    assert cli.main(["rollback", str(root)]) == 0
    assert "version 1 is served again" in capsys.readouterr().out
    assert versions.served_version(root) == 1
