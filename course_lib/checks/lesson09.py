"""Checks for lesson 09, your own photos: from a folder to a served model."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks._core import (
    StudentCodeFailed,
    call_student,
    check_rng,
    describe,
    opened_image,
    run_check,
    salted,
    shown,
    student_error,
)
from course_lib.record import CheckResult

# ------------------------------------------------------------------ 9.1 upright RGB


SIDEWAYS_RGBA = "transparent RGBA PNG stored sideways with an EXIF orientation tag"


def _test_images() -> dict[str, tuple[Any, np.ndarray]]:
    """Pillow images as opened from files, and the upright RGB pixels each should give."""
    from PIL import Image

    def reopen(image: Image.Image, fmt: str, **options: Any) -> Image.Image:
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return opened_image(out.getvalue())

    height, width = 30, 48
    base = np.zeros((height, width, 3), np.uint8)
    base[..., 0] = 180
    base[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    colours = [200, 30, 30, 30, 200, 30, 30, 30, 200]
    if salted():  # other pixels in each grading run, so that outputs cannot be written in advance
        rng = check_rng(91)
        base = rng.integers(0, 256, base.shape, dtype=np.uint8)
        colours = [int(v) for v in rng.integers(1, 256, 9)]
    base[:8, :12] = (20, 20, 240)  # a blue mark at the top-left: which way is up
    upright = Image.fromarray(base)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter to the left; shown after turning it back
    phone = reopen(upright.transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif)
    # Other orientations, so that one fixed rotation for every tagged photo does not pass
    other_ways = {}
    for tag, stored, how in (
        (8, Image.Transpose.ROTATE_270, "turned the other way, EXIF orientation 8"),
        (3, Image.Transpose.ROTATE_180, "upside down, EXIF orientation 3"),
        (5, Image.Transpose.TRANSPOSE, "mirrored and turned, EXIF orientation 5"),
    ):
        tagged = Image.Exif()
        tagged[0x0112] = tag
        other_ways[f"phone photo stored {how}"] = (
            reopen(upright.transpose(stored), "PNG", exif=tagged),
            base,
        )

    def on_white(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """pixels blended on white by their alpha, as Image.alpha_composite does."""
        share = alpha[..., None].astype(np.float64) / 255
        return np.round(pixels * share + 255 * (1 - share)).astype(np.uint8)

    rgba = upright.convert("RGBA")
    alpha = np.full((height, width), 255, np.uint8)
    alpha[:, -10:] = 0  # a transparent band on the right
    alpha[:, -20:-10] = 128  # and a half-transparent one, as at the soft edge of a logo
    rgba.putalpha(Image.fromarray(alpha))
    # The same, stored sideways with an orientation tag: a function that composites first
    # and applies the tag after finds none (alpha_composite's new image has no EXIF data)
    sideways_rgba = reopen(rgba.transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif)
    palette = Image.fromarray(
        np.repeat(np.arange(4, dtype=np.uint8), 12)[None, :].repeat(height, axis=0), "P"
    )
    palette.putpalette(colours + [0, 0, 0] + [0] * (256 - 4) * 3)
    palette_file = reopen(palette, "PNG", transparency=3)  # colour 3 (black) is transparent
    palette_expected = np.asarray(palette.convert("RGB")).copy()
    palette_expected[:, 36:] = 255
    gray = Image.fromarray(base).convert("L")
    gray_alpha = gray.convert("LA")
    alpha_left = np.full((height, width), 255, np.uint8)
    alpha_left[:, :10] = 0  # a transparent band on the left, over the gray of the image
    alpha_left[:, 10:16] = 120  # and a half-transparent one next to it
    gray_alpha.putalpha(Image.fromarray(alpha_left))
    gray_rgb = np.repeat(np.asarray(gray)[..., None], 3, axis=-1)
    return {
        "plain RGB PNG": (reopen(upright, "PNG"), base),
        "phone photo stored sideways with an EXIF orientation tag": (phone, base),
        **other_ways,
        "RGBA PNG with a transparent band": (reopen(rgba, "PNG"), on_white(base, alpha)),
        SIDEWAYS_RGBA: (sideways_rgba, on_white(base, alpha)),
        "LA PNG (gray and alpha) with a transparent band": (
            reopen(gray_alpha, "PNG"),
            on_white(gray_rgb, alpha_left),
        ),
        "palette PNG with a transparent colour": (palette_file, palette_expected),
        "grayscale PNG": (reopen(gray, "PNG"), gray_rgb),
    }


def _pixels_of(value: Any, what: str) -> np.ndarray:
    from PIL import Image

    if isinstance(value, Image.Image):
        if value.mode != "RGB":
            raise StudentCodeFailed(
                f"on the {what}, your function returned a Pillow image in mode "
                f"'{value.mode}'; the model takes 3 channels: return it in mode 'RGB'."
            )
        return np.asarray(value)
    try:
        pixels = isinstance(value, np.ndarray) or hasattr(value, "numpy")
    except Exception:  # an object that raises even on this question
        pixels = False
    if pixels:  # pixels (an array, a tensor), not an image
        raise StudentCodeFailed(
            f"on the {what}, your function returned {describe(value)}, not a Pillow image: "
            "the task asks for a Pillow image in mode 'RGB'. Return the image itself "
            "(image.convert('RGB') gives one), or Image.fromarray(pixels) if you worked on "
            "a uint8 array."
        )
    raise StudentCodeFailed(
        f"on the {what}, your function returned {describe(value)}; "
        "return a Pillow image in mode 'RGB'."
    )


def _alpha_problem(
    what: str, got: np.ndarray, expected: np.ndarray, under: np.ndarray, alpha: np.ndarray
) -> str:
    """What is wrong with the pixels of an image with an alpha channel, some of them wrong.

    ``under`` holds the colours the file stores under its alpha (what convert('RGB') keeps).
    """

    def close(a: np.ndarray, b: Any) -> bool:
        return bool(np.all(np.abs(a.astype(int) - np.asarray(b, int)) <= 2))

    wrong = np.abs(got.astype(int) - expected.astype(int)).max(axis=-1) > 2

    def first(mask: np.ndarray) -> tuple[int, int]:
        rows, cols = np.nonzero(mask)
        return int(rows[0]), int(cols[0])

    def colour(pixels: np.ndarray, at: tuple[int, int]) -> tuple[int, ...]:
        return tuple(int(v) for v in pixels[at])

    opaque, clear = alpha == 255, alpha == 0
    half = ~opaque & ~clear
    if (wrong & opaque).any():
        at = first(wrong & opaque)
        if close(got, 255):
            return (
                f"on the {what}, the whole image came out white, its opaque pixels too: the "
                "white layer went on top. Image.alpha_composite(background, image) puts its "
                "second argument over the first: the white background first, the image second."
            )
        return (
            f"on the {what}, opaque pixels (alpha 255) changed: pixel {at} is "
            f"{colour(got, at)}, expected {colour(expected, at)}. Only pixels that are not "
            "fully opaque show some of the white background."
        )
    if (wrong & clear).any():
        at = first(wrong & clear)
        if close(got[clear], 0):
            return (
                f"on the {what}, the transparent pixels came out black {colour(got, at)}, not "
                "white (255, 255, 255): the background you put the image on is black. Make "
                "it opaque white, Image.new('RGBA', image.size, (255, 255, 255, 255)), and "
                "composite the image over it."
            )
        if close(got[clear], under[clear]):
            return (
                f"on the {what}, the transparent pixels came out as {colour(got, at)}, not "
                "white (255, 255, 255): convert('RGB') drops the alpha channel and keeps "
                "whatever colour lies under it. Composite on a white background first "
                "(Image.alpha_composite)."
            )
        return (
            f"on the {what}, the transparent pixels came out as {colour(got, at)}, not white "
            "(255, 255, 255): put the image on an opaque white background "
            "(Image.alpha_composite)."
        )
    at = first(wrong & half)
    share = int(alpha[at])
    blend = (
        f"pixel {at}, of colour {colour(under, at)} and alpha {share}, should be "
        f"{colour(expected, at)}: colour × {share}/255 + white × (1 − {share}/255), the blend "
        "Image.alpha_composite(white, image) makes with an opaque white background"
    )
    if close(got[half], 255):
        return (
            f"on the {what}, the half-transparent pixels came out pure white: only fully "
            f"transparent pixels become white; the others are blended with it ({blend})."
        )
    if close(got[half], under[half]):
        return (
            f"on the {what}, the half-transparent pixels kept their own colour, as if they "
            f"were opaque: {blend}."
        )
    return (
        f"on the {what}, half-transparent pixels are not blended on white: {blend}; yours is "
        f"{colour(got, at)}."
    )


def exercise_9_1(upright_rgb: Callable[[Any], Any]) -> CheckResult:
    """upright_rgb(image) -> upright RGB, transparency on white."""

    from PIL import ImageOps

    def diagnose() -> str | None:
        for what, (image, expected) in _test_images().items():
            alpha = under = None
            if image.mode in ("RGBA", "LA"):  # read before the student's code may change it
                upright = ImageOps.exif_transpose(image)  # a copy, turned as the tag says
                alpha = np.asarray(upright.getchannel("A"))
                under = np.asarray(upright.convert("RGB"))
            mode = image.mode
            try:
                returned = call_student(upright_rgb, image)
            except StudentCodeFailed as exc:
                if "images do not match" not in str(exc):
                    raise
                raise StudentCodeFailed(
                    f"on the {what} (mode {mode}), your code raised ValueError: images do not "
                    "match. That is Image.alpha_composite's complaint: it takes two RGBA images "
                    "of the same size, so convert an image with transparency to 'RGBA' before "
                    "compositing it, and make the background the size of the image turned "
                    "upright."
                ) from None
            got = _pixels_of(returned, what)
            if got.shape != expected.shape:
                if got.shape[:2] == expected.shape[1::-1] and what == SIDEWAYS_RGBA:
                    return (
                        f"the {what} comes out sideways ({got.shape[1]}×{got.shape[0]} instead of "
                        f"{expected.shape[1]}×{expected.shape[0]}), though the sideways photo "
                        "without transparency came out upright: Image.alpha_composite, like "
                        "Image.new, makes a new image without the file's EXIF data, so "
                        "exif_transpose applied after them finds no orientation tag. Apply "
                        "PIL.ImageOps.exif_transpose to the image as it was opened, first."
                    )
                if got.shape[:2] == expected.shape[1::-1]:
                    return (
                        f"the {what} comes out sideways ({got.shape[1]}×{got.shape[0]} instead of "
                        f"{expected.shape[1]}×{expected.shape[0]}): apply the EXIF orientation, "
                        "e.g. PIL.ImageOps.exif_transpose(image), to the image as it was opened, "
                        "first: Image.alpha_composite, like Image.new, makes a new image "
                        "without the file's EXIF data, in which exif_transpose finds no tag."
                    )
                return (
                    f"on the {what}, the pixels have shape {got.shape}, expected {expected.shape}."
                )
            wrong = np.abs(got.astype(int) - expected.astype(int)).max(axis=-1) > 2
            if not wrong.any():
                continue
            if alpha is not None and under is not None:
                return _alpha_problem(what, got, expected, under, alpha)
            if "transparent" in what:
                rows, cols = np.nonzero(wrong)
                colour = tuple(int(v) for v in got[rows[0], cols[0]])
                return (
                    f"on the {what}, the transparent pixels came out as {colour}, not "
                    "white: a palette image keeps its transparency in "
                    "image.info['transparency']; convert it to 'RGBA' first, then put it "
                    "on white like any RGBA image."
                )
            if "EXIF" in what:
                return (
                    f"the {what} has the right size but is upside down or mirrored: "
                    "apply the orientation tag once, with PIL.ImageOps.exif_transpose(image)."
                )
            rows, cols = np.nonzero(wrong)
            return (
                f"on the {what}, {int(wrong.sum())} of {wrong.size} pixels differ from the "
                f"file's own colours: pixel ({rows[0]}, {cols[0]}) is "
                f"{tuple(int(v) for v in got[rows[0], cols[0]])}, expected "
                f"{tuple(int(v) for v in expected[rows[0], cols[0]])}."
            )
        return None

    return run_check(
        "9.1",
        diagnose,
        "plain, sideways, transparent (RGBA and LA, RGBA sideways too), palette and gray files "
        "all come out upright RGB Pillow images, transparency on white.",
    )


# ------------------------------------------------------------------ 9.2 split per class


# Shares other than the default, validation and test unequal: an answer that ignores its
# `fractions` argument (0.15 written in) or swaps validation and test shows.
OTHER_FRACTIONS = (0.6, 0.25, 0.15)


def _other_fractions_problem(
    parts: Callable[..., tuple[list[str], list[str], list[str]]],
    files: list[str],
    label_of: dict[str, int],
    sizes: dict[str, int],
) -> str | None:
    """What a split with OTHER_FRACTIONS shows wrong in one right with the default, or None."""
    train, val, test = parts(0, OTHER_FRACTIONS)  # a call of its own: other arguments
    seen = train + val + test
    if sorted(seen) != sorted(files):
        return (
            f"with fractions={OTHER_FRACTIONS} your split does not put every file in exactly "
            "one split, as it does with the default shares."
        )
    for k, (name, n) in enumerate(sizes.items()):
        got = [sum(label_of[f] == k for f in part) for part in (val, test)]
        expected = [max(1, round(n * f)) for f in OTHER_FRACTIONS[1:]]
        if got == expected:
            continue
        shown = (
            f"with fractions={OTHER_FRACTIONS}, class '{name}' ({n} files) gets {got[0]} "
            f"validation and {got[1]} test files; expected max(1, round({n} × "
            f"{OTHER_FRACTIONS[1]})) = {expected[0]} and max(1, round({n} × "
            f"{OTHER_FRACTIONS[2]})) = {expected[1]}."
        )
        if got == [max(1, round(n * 0.15))] * 2:
            return (
                f"{shown} Those are the default shares, 0.15 each: take the shares from the "
                "`fractions` argument (fractions[1] for validation, fractions[2] for test) "
                "instead of writing them in."
            )
        if got == expected[::-1]:
            return (
                f"{shown} Validation and test are swapped: fractions is (train, validation, test)."
            )
        return shown
    return None


def _share_mixed_up(
    splits: tuple[list[str], list[str], list[str]],
    label_of: dict[str, int],
    sizes: dict[str, int],
    fractions: tuple[float, float, float],
) -> str | None:
    """Whether validation or test got another split's share of every class, or None."""
    names = ("train", "validation", "test")
    for own in (1, 2):
        counts = [sum(label_of[f] == k for f in splits[own]) for k in range(len(sizes))]
        for other in (0, 1, 2):
            if fractions[other] == fractions[own]:
                continue
            if counts == [max(1, round(n * fractions[other])) for n in sizes.values()]:
                name, n = next(iter(sizes.items()))
                return (
                    f"{names[own]} holds {counts[0]} of the {n} files of class '{name}', "
                    f"max(1, round({n} × {fractions[other]})): the share of {names[other]}, "
                    f"fractions[{other}]. {names[own].capitalize()}'s share is "
                    f"fractions[{own}] = {fractions[own]}: fractions is (train, validation, "
                    "test)."
                )
    return None


def _class_starts(sizes: dict[str, int], rank: int) -> list[int]:
    """The index, in the files listed class after class, of each class's file ``rank``."""
    out, start = [], 0
    for n in sizes.values():
        if rank < n:
            out.append(start + rank)
        start += n
    return out


def _split_counts(
    splits: tuple[list[str], list[str], list[str]], label_of: dict[str, int], classes: int
) -> list[list[int]]:
    """How many files of each class each split holds."""
    return [[sum(label_of[f] == k for f in part) for k in range(classes)] for part in splits]


def _wanted_counts(sizes: dict[str, int], fractions: Any) -> list[list[int]]:
    """The files of each class each split should hold."""
    val = [max(1, round(n * fractions[1])) for n in sizes.values()]
    test = [max(1, round(n * fractions[2])) for n in sizes.values()]
    train = [n - v - t for n, v, t in zip(sizes.values(), val, test, strict=True)]
    return [train, val, test]


def _splits_order_problem(
    splits: tuple[list[str], list[str], list[str]],
    label_of: dict[str, int],
    sizes: dict[str, int],
    fractions: Any,
) -> str | None:
    """Whether the three lists hold the right shares, only returned in another order."""
    got, wanted = _split_counts(splits, label_of, len(sizes)), _wanted_counts(sizes, fractions)
    if got == wanted:
        return None
    names = ("train", "validation", "test")
    for order in itertools.permutations(range(3)):
        if [got[i] for i in order] == wanted:
            held = [names[order.index(place)] for place in range(3)]
            return (
                f"the three lists come back in another order: yours hold the {held[0]}, "
                f"{held[1]} and {held[2]} shares of each class, in that order. Return them as "
                "(train, validation, test)."
            )
    return None


def _mixed_problem(
    splits: tuple[list[str], list[str], list[str]],
    label_of: dict[str, int],
    sizes: dict[str, int],
    fractions: Any,
    mixed_labels: list[int],
) -> str | None:
    """What goes wrong when the classes' files come mixed in the list, or None."""
    seen = [f for part in splits for f in part]
    got, wanted = _split_counts(splits, label_of, len(sizes)), _wanted_counts(sizes, fractions)
    if sorted(seen) == sorted(label_of) and got == wanted:
        return None
    if sorted(seen) != sorted(label_of):
        wrong = "does not put every file in exactly one split"
    else:
        k = next(k for k in range(len(sizes)) if [g[k] for g in got] != [w[k] for w in wanted])
        name, n = list(sizes.items())[k]
        wrong = (
            f"gives class '{name}' ({n} files) {got[0][k]} training, {got[1][k]} validation "
            f"and {got[2][k]} test files, where {wanted[0][k]}, {wanted[1][k]} and "
            f"{wanted[2][k]} are right"
        )
    shown_labels = ", ".join(map(str, mixed_labels[:8]))
    return (
        f"with the same files listed with the classes mixed (labels [{shown_labels}, ...]), "
        f"your split {wrong}; it is right only when each class's files come one after "
        "another. The labels may come in any order: pick each class's files by their label "
        "(e.g. [f for f, label in zip(files, labels) if label == c])."
    )


def _cut_in_name_order(
    splits: tuple[list[str], list[str], list[str]], files: list[str], name: str
) -> bool:
    """Whether each split holds one run of class ``name``'s files in their listed (name)
    order, as a cut of the unshuffled list gives: a shuffle of 20 files never does."""
    position = {f: i for i, f in enumerate(files)}
    for part in splits:
        held = sorted(position[f] for f in part if f.startswith(f"{name}/"))
        if held and held[-1] - held[0] != len(held) - 1:
            return False
    return True


# The ways students cut a share of n files to a whole number.
_CUTS = (
    round,
    lambda x: int(np.floor(x)),
    lambda x: int(np.ceil(x)),
    lambda x: max(1, round(x)),
)


def exercise_9_2(split_files: Callable[..., Any]) -> CheckResult:
    """split_files(files, labels, fractions, seed) -> (train, validation, test) lists, stratified
    and seeded."""
    # 13 × 0.15 = 1.95 and 9 × 0.15 = 1.35: int() and math.ceil give other counts than round().
    sizes = {"roses": 20, "tulips": 4, "daisy": 3, "iris": 13, "lilac": 9}
    # Other file names in each grading run, so that splits written out in advance do not match.
    first = int(check_rng(92).integers(1000, 9000)) if salted() else 0
    files = [f"{name}/{first + i:02d}.jpg" for name, n in sizes.items() for i in range(n)]
    labels = [k for k, n in enumerate(sizes.values()) for _ in range(n)]
    label_of = dict(zip(files, labels, strict=True))
    names = list(sizes)
    fractions = (0.7, 0.15, 0.15)

    # The same files with the classes mixed, one file of each in turn: a split that takes a
    # class to be the files that come one after another goes wrong on it.
    mixed = [i for rank in range(max(sizes.values())) for i in _class_starts(sizes, rank)]
    mixed_files, mixed_labels = [files[i] for i in mixed], [labels[i] for i in mixed]

    def parts(
        seed: int, shares: Any = fractions, mix: bool = False
    ) -> tuple[list[str], list[str], list[str]]:
        own_files, own_labels = (mixed_files, mixed_labels) if mix else (files, labels)
        given_files, given_labels = list(own_files), list(own_labels)
        result = call_student(split_files, given_files, given_labels, shares, seed)
        for name, given, original in (
            ("files", given_files, own_files),
            ("labels", given_labels, own_labels),
        ):
            if given != original:
                raise StudentCodeFailed(
                    f"your function changed the caller's `{name}` list in place: the caller "
                    "still needs it as it was. Work on copies, or on new lists."
                )
        if not isinstance(result, tuple | list) or len(result) != 3:
            raise StudentCodeFailed(
                f"your function returned {describe(result)}; return three lists: "
                "(train, validation, test)."
            )
        out = []
        for split, part in zip(("train", "validation", "test"), result, strict=True):
            try:
                items = [str(f) if isinstance(f, str | np.str_) else f for f in list(part)]
            except TypeError:
                raise StudentCodeFailed(
                    f"the {split} part is {describe(part)}, not a list of file names."
                ) from None
            if any(not isinstance(f, str) for f in items):
                raise StudentCodeFailed(
                    f"the {split} part holds "
                    f"{describe(next(f for f in items if not isinstance(f, str)))}; return the "
                    "file names themselves."
                )
            out.append(items)
        return out[0], out[1], out[2]

    def diagnose() -> str | None:
        train, val, test = parts(0)
        seen = train + val + test
        doubles = sorted({f for f in seen if seen.count(f) > 1})
        if doubles:
            return (
                f"{doubles[0]} is in two splits ({len(doubles)} such files): a file used for "
                "training must never be used to validate or test."
            )
        unknown = sorted(set(seen) - set(files))
        if unknown:
            return f"{unknown[0]} is not one of the files given."
        missing = sorted(set(files) - set(seen))
        if missing:
            return (
                f"{len(missing)} file(s) are in no split, e.g. {missing[0]}: check your "
                "rounding, every file should land somewhere."
            )
        shares = dict(zip(("train", "validation", "test"), fractions, strict=True))
        for split, part in (("train", train), ("validation", val), ("test", test)):
            counts = [sum(label_of[f] == k for f in part) for k in range(len(names))]
            for k, name in enumerate(names):
                if counts[k]:
                    continue
                n, fraction = sizes[name], shares[split]
                in_train = [sum(label_of[f] == c for f in train) for c in range(len(names))]
                first = [[cut(sizes[c] * fractions[0]) for c in names] for cut in _CUTS]
                if split != "train" and any(in_train == counts for counts in first):
                    return (
                        f"class '{name}' ({n} files) has no file in {split}: you gave training "
                        f"its share first ({in_train[k]} of {n} files), and what was left did "
                        "not reach every split. Take the other order: give validation and test "
                        "max(1, round(n × fraction)) files each first, and training the rest."
                    )
                # Every class cut to the same share, only too small: the split is per class.
                if counts == [int(np.floor(sizes[c] * fraction)) for c in names]:
                    return (
                        f"class '{name}' has {n} files and none in {split}: {n} × {fraction} = "
                        f"{n * fraction:.3g}, which int() and // cut down to 0. The exercise "
                        "rounds to the nearest whole number, and keeps at least one file of "
                        "every class in every split."
                    )
                if counts == [round(sizes[c] * fraction) for c in names]:
                    return (
                        f"class '{name}' has {n} files and none in {split}: round({n} × "
                        f"{fraction}) is 0, and every class needs at least one file in every "
                        "split."
                    )
                mixed = _share_mixed_up((train, val, test), label_of, sizes, fractions)
                if mixed:
                    return mixed
                whole = len(seen)
                if all(
                    len(part) in {cut(whole * share) for cut in _CUTS}
                    for part, share in ((val, fractions[1]), (test, fractions[2]))
                ):  # the shares of all the files together: one split of the whole list
                    return (
                        f"class '{name}' ({n} files) has no file in {split}: your splits hold "
                        f"{len(train)}, {len(val)} and {len(test)} of all {whole} files, the "
                        "shares of the whole list. Split each class on its own, so that every "
                        "class is in every split."
                    )
                held = [sum(label_of[f] == k for f in part) for part in (train, val, test)]
                return (
                    f"class '{name}' ({n} files) has no file in {split}: it has {held[0]} in "
                    f"train, {held[1]} in validation and {held[2]} in test. Give validation and "
                    "test max(1, round(n × fraction)) files of each class, and training the "
                    "rest, so that every class is in every split."
                )
        order = _splits_order_problem((train, val, test), label_of, sizes, fractions)
        if order:
            return order
        for k, name in enumerate(names):
            n = sizes[name]
            counts = [sum(label_of[f] == k for f in part) for part in (train, val, test)]
            for count, fraction, split in zip(
                counts[1:], fractions[1:], ("validation", "test"), strict=True
            ):
                expected = max(1, round(n * fraction))
                if count != expected:
                    cause = (
                        " int() and // drop the fraction: use round()."
                        if count == max(1, int(np.floor(n * fraction)))
                        else " math.ceil rounds up: use round()."
                        if count == max(1, int(np.ceil(n * fraction)))
                        else ""
                    )
                    return (
                        f"class '{name}' has {n} files and {count} of them in {split}; "
                        f"max(1, round({n} × {fraction})) = {expected}.{cause}"
                    )
        problem = _mixed_problem(parts(0, mix=True), label_of, sizes, fractions, mixed_labels)
        if problem:
            return problem
        problem = _other_fractions_problem(parts, files, label_of, sizes)
        if problem:
            return problem
        # The same shares as a list: a call of its own, also when the grader answers each
        # distinct call once, so that an unseeded shuffle shows.
        if parts(0, list(fractions)) != (train, val, test):
            return (
                "two calls with seed=0 gave different splits: shuffle with a generator made "
                "from the seed, e.g. np.random.default_rng(seed), so that the split can be "
                "repeated."
            )
        if all(parts(seed) == (train, val, test) for seed in (1, 2, 3)):
            if not _cut_in_name_order((train, val, test), files, names[0]):
                return (
                    "seeds 0, 1, 2 and 3 all give the same split, not cut from the files in "
                    "their listed order: your order does not depend on the `seed` argument (a "
                    "seed written in, np.random.default_rng(42)?). Make the generator from the "
                    "argument, "
                    "np.random.default_rng(seed), so that other seeds give other splits."
                )
            return (
                "seeds 0, 1, 2 and 3 all give the same split: the files are not shuffled. "
                "Files listed in name order often follow the order they were taken in; shuffle "
                "each class with the seed."
            )
        roses_train = [f for f in train if f.startswith("roses/")]
        if sorted(roses_train) == sorted(files[: len(roses_train)]):
            return (
                "the training files of each class are its first files by name: shuffle each class "
                "with the seed before cutting it."
            )
        return None

    return run_check(
        "9.2",
        diagnose,
        "every file in exactly one split, every class in every split, "
        "in the right shares, repeatable with the seed.",
    )


# ------------------------------------------------------------------ 9.3 images-in model

_SIZE = 16


def _tiny_parts() -> tuple[Any, Any]:
    import keras

    # Other weights in each grading run, so that a model's outputs cannot be written in advance.
    keras.utils.set_random_seed(int(check_rng(9).integers(2**31)) if salted() else 9)
    backbone = keras.Sequential(
        [
            keras.Input((_SIZE, _SIZE, 3)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="tiny_backbone",
    )
    head = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")], name="head"
    )
    return backbone, head


def _reference(
    backbone: Any,
    head: Any,
    image: np.ndarray,
    crop: bool,
    scale: float,
    offset: float,
    in_uint8: bool = False,
    **resize: Any,
) -> np.ndarray:
    """The probabilities for ``image`` prepared so; ``resize``: other options of the resize
    (``interpolation``, ``antialias``, ``pad_to_aspect_ratio``), for the mistakes.

    ``in_uint8``: resized as the uint8 photo itself, as a Resizing layer does on the model's
    uint8 input: its result is rounded to uint8 too (and, for bicubic or lanczos, clipped).
    """
    import keras

    x = image[None] if in_uint8 else image[None].astype("float32")
    x = keras.ops.image.resize(x, (_SIZE, _SIZE), crop_to_aspect_ratio=crop, **resize)
    x = keras.ops.cast(x, "float32")
    return np.asarray(head(backbone(x * scale + offset, training=False)))[0]


# Resizes other than the training images' (bilinear, not antialiased, cropped), each with what
# to change; tried once scaling is right, so that the message names the resize alone.
_OTHER_RESIZES: list[tuple[dict[str, Any], str]] = [
    (
        {"interpolation": "nearest"},
        "the photo was resized with nearest-neighbour interpolation, which copies whole pixels; "
        "image_dataset_from_directory resized the training images bilinearly: "
        "Resizing(..., interpolation='bilinear'), its default.",
    ),
    (
        {"antialias": True},
        "the resize is antialiased (antialias=True), which blurs the photo before shrinking "
        "it; image_dataset_from_directory resized the training images without: leave "
        "antialias at its default, False.",
    ),
    *(
        (
            {"interpolation": method},
            f"the photo was resized with {method!r} interpolation; "
            "image_dataset_from_directory resized the training images bilinearly: "
            "Resizing(..., interpolation='bilinear'), its default.",
        )
        for method in ("bicubic", "area", "lanczos3", "lanczos5")
    ),
]

PADDED = (
    "the photo was padded to a square (pad_to_aspect_ratio=True), with bands of zeros the "
    "training images never had; image_dataset_from_directory cropped them: "
    "crop_to_aspect_ratio=True."
)


def _resizing_options(model: Any) -> list[dict[str, Any]]:
    """The configs of the model's Resizing layers (nested models' too)."""
    import keras

    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Resizing):
            try:
                found.append(layer.get_config())
            except Exception:  # a layer that cannot say: nothing to tell from it
                continue
        elif isinstance(layer, keras.Model):
            found += _resizing_options(layer)
    return found


def _rescalings(model: Any) -> list[tuple[float, float]] | None:
    """(scale, offset) of each Rescaling layer of the model (nested models' too), in order;
    None when one has a scale or offset that is not one number (per channel, say)."""
    import keras

    found: list[tuple[float, float]] = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Rescaling):
            try:
                found.append((float(np.squeeze(layer.scale)), float(np.squeeze(layer.offset))))
            except Exception:  # not one number each
                return None
        elif isinstance(layer, keras.Model):
            inner = _rescalings(layer)
            if inner is None:
                return None
            found += inner
    return found


def _normalizations(model: Any) -> list[tuple[float, float]] | None:
    """(scale, offset) of each Normalization layer of the model given its mean and variance
    (nested models' too), in order: x × scale + offset is (x - mean) / sqrt(variance). None
    when one has none given, or per-channel values that differ, or is inverted."""
    import keras

    found: list[tuple[float, float]] = []
    for layer in _layers_in_order(model):
        if not isinstance(layer, keras.layers.Normalization):
            continue
        try:
            config = layer.get_config()
            mean = np.unique(np.asarray(config["mean"], np.float64))
            variance = np.unique(np.asarray(config["variance"], np.float64))
            if config.get("invert") or mean.size != 1 or variance.size != 1 or variance[0] <= 0:
                return None
        except Exception:  # no mean and variance in its config (adapted to data, say)
            return None
        deviation = float(np.sqrt(variance[0]))
        found.append((1 / deviation, -float(mean[0]) / deviation))
    return found


def _scalings(model: Any) -> list[tuple[float, float, Callable[[], str]]]:
    """(scale, offset, what to say if it is off) of the model's Rescaling layers together, and
    of its Normalization layers together: those it has."""
    found: list[tuple[float, float, Callable[[], str]]] = []
    rescalings = _rescalings(model)
    if rescalings:
        scale, offset = _composed(rescalings)
        found.append((scale, offset, lambda: _rescaling_problem(rescalings)))
    normalizations = _normalizations(model)
    if normalizations:
        scale, offset = _composed(normalizations)
        found.append((scale, offset, lambda s=scale, o=offset: _normalization_problem(s, o)))
    return found


def _normalization_problem(scale: float, offset: float) -> str:
    """What the model's Normalization layers compute, against (x - 127) / 128."""
    return (
        f"your Normalization layer computes x × {scale:.6g} {'-' if offset < 0 else '+'} "
        f"{abs(offset):.6g}, which takes the pixels 0 and 255 to {offset:.3f} and "
        f"{255 * scale + offset:.3f}; EfficientNet-Lite was trained on (x - 127) / 128, from "
        "-0.992 to 1.000: Normalization(mean=127, variance=128 ** 2), or "
        "Rescaling(1 / 128, offset=-127 / 128)."
    )


def _layers_in_order(model: Any) -> list[Any]:
    """The model's layers in the order the data flows, nested models opened up."""
    import keras

    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        found += _layers_in_order(layer) if isinstance(layer, keras.Model) else [layer]
    return found


def _order_problem(model: Any) -> str | None:
    """The message for a model that scales the photo before resizing it, or None."""
    import keras

    layers = _layers_in_order(model)
    resizing = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Resizing)]
    rescaling = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Rescaling)]
    if not resizing or not rescaling or min(rescaling) > min(resizing):
        return None
    return (
        "your model scales the photo (Rescaling) before it resizes it (Resizing): the lesson "
        "compares what the 'resize' layer gives with the training images on the 0-255 "
        "scale, so the resize comes first, on the photo's own pixels as "
        "image_dataset_from_directory resized the training images, then the Rescaling. With "
        "the scaling first the resize works on scaled values, and model.get_layer('resize') "
        "no longer gives pixels."
    )


def _composed(rescalings: list[tuple[float, float]]) -> tuple[float, float]:
    """(scale, offset) of Rescaling layers applied one after the other."""
    scale, offset = 1.0, 0.0
    for one_scale, one_offset in rescalings:
        scale, offset = scale * one_scale, offset * one_scale + one_offset
    return scale, offset


def _scaling_off(scale: float, offset: float) -> bool:
    """Does x × scale + offset miss (x - 127) / 128 by more than half a grey level somewhere
    in 0-255? (A rounded offset, -0.992, does not; 1 / 127 or an offset of -1 does.)"""
    return any(abs(scale * x + offset - (x - 127) / 128) > 0.5 / 128 for x in (0.0, 255.0))


def _same_scaling(one: tuple[float, float], other: tuple[float, float]) -> bool:
    """Whether two x × scale + offset agree within half a grey level over 0-255."""
    return all(
        abs(one[0] * x + one[1] - (other[0] * x + other[1])) <= 0.5 / 128 for x in (0.0, 255.0)
    )


def _rescaling_problem(rescalings: list[tuple[float, float]]) -> str:
    """What the model's Rescaling layers do, against (x - 127) / 128, for a model whose
    probabilities are those of the photo scaled that way."""
    scale, offset = _composed(rescalings)
    layers = (
        "your Rescaling layer computes"
        if len(rescalings) == 1
        else f"your {len(rescalings)} Rescaling layers compute, one after the other,"
    )
    message = (
        f"{layers} x × {scale:.6g} {'-' if offset < 0 else '+'} {abs(offset):.6g}, which takes "
        f"the pixels 0 and 255 to {offset:.3f} and {255 * scale + offset:.3f}; "
        "EfficientNet-Lite was trained on (x - 127) / 128, from -0.992 to 1.000: "
        "Rescaling(1 / 128, offset=-127 / 128)."
    )
    if len(rescalings) == 1 and abs(offset) > 2:
        message += (
            f" Its offset is added after the multiplication, to values already scaled: "
            f"offset={offset:g} counts in pixels, -127 / 128 in scaled units."
        )
    return message


# Keras's words when the backbone gets another shape than it was built for
_INCOMPATIBLE = re.compile(
    r"expected shape=\(None, (\d+), (\d+), (\d+)\), found shape=\(None, (\w+), (\w+), (\w+)\)"
)


def _build_failure(exc: StudentCodeFailed) -> StudentCodeFailed:
    """The message for building the model failing, when the backbone got another shape."""
    text = " ".join(shown(str(exc.raised if exc.raised is not None else exc)).split())
    if "incompatible with the layer" not in text:
        return exc
    found = _INCOMPATIBLE.search(text)
    if found and found.group(4, 5) == (str(_SIZE), str(_SIZE)) and found.group(6) != "3":
        channels = found.group(6)
        counted = (
            f"{channels} channel{'s' * (channels != '1')}"
            if channels.isdigit()
            else "channels not fixed"
        )
        return StudentCodeFailed(
            f"the backbone takes RGB images, 3 channels, and your model gives it images of "
            f"shape (None, {_SIZE}, {_SIZE}, {channels}), {counted}: the photo "
            "arrives in RGB, keras.Input((None, None, 3), dtype='uint8', name='image'), as the "
            "task says."
        )
    if (found and found.group(4, 5) != (str(_SIZE), str(_SIZE))) or (
        not found and f"(None, {_SIZE}, {_SIZE}," in text
    ):
        return StudentCodeFailed(
            f"the backbone here takes {_SIZE}×{_SIZE} images (image_size={_SIZE}), and "
            "your model gives it another size: resize to image_size × image_size, the "
            "argument, not a size written in."
        )
    return exc


def _several_outputs(given: Any) -> str | None:
    """The message for a model whose output is a dict, a list or a tuple, or None."""
    if isinstance(given, dict):
        keys = ", ".join(repr(key) for key in list(given)[:5])
        return (
            f"your model returns a dict (keys {keys}) where one array of probabilities is "
            "expected, one row per photo: give keras.Model the head's output itself as its "
            "outputs, keras.Model(inputs, head(x)), not a dict holding it."
        )
    if isinstance(given, list | tuple):
        return (
            f"your model returns a {type(given).__name__} of {len(given)} outputs where one "
            "array of probabilities is expected, one row per photo: give keras.Model the "
            "head's output itself as its outputs, keras.Model(inputs, head(x))."
        )
    return None


def _called_without_training_false(model: Any, backbone: Any) -> bool:
    """True when the model's config shows a call of ``backbone`` without ``training=False``."""
    try:
        layers = model.get_config().get("layers", [])
    except Exception:  # a config Keras cannot write: nothing to tell
        return False
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("config", {}).get("name") != backbone.name:
            continue
        nodes = layer.get("inbound_nodes") or [{}]
        return any(
            not isinstance(node, dict) or node.get("kwargs", {}).get("training") is not False
            for node in nodes
        )
    return False


def exercise_9_3(build_images_in_model: Callable[[Any, Any, int], Any]) -> CheckResult:
    """build_images_in_model(backbone, head, image_size) -> uint8 photos of any size in,
    probabilities out."""
    import keras

    rng = check_rng(93)
    photos = {
        "wide photo (40×90)": rng.integers(0, 256, (40, 90, 3), dtype=np.uint8),
        "tall photo (70×30)": rng.integers(0, 256, (70, 30, 3), dtype=np.uint8),
    }

    def diagnose() -> str | None:
        backbone, head = _tiny_parts()
        try:
            model = call_student(build_images_in_model, backbone, head, _SIZE)
        except StudentCodeFailed as exc:
            raise _build_failure(exc) from None
        if not isinstance(model, keras.Model):
            return f"your function returned {describe(model)}; return the keras.Model."
        inputs = getattr(model, "inputs", None) or []
        if len(inputs) != 1:
            return f"the model has {len(inputs)} inputs; it takes one: the photo."
        spec = inputs[0]
        if str(spec.dtype) != "uint8":
            return (
                f"the model's input is {spec.dtype}; photos arrive as uint8 pixels: "
                "keras.Input((None, None, 3), dtype='uint8')."
            )
        if tuple(spec.shape)[1:3] != (None, None):
            return (
                f"the model's input has shape {tuple(spec.shape)}: it only takes photos of one "
                "size. Leave height and width free, (None, None, 3), and resize inside the "
                "model."
            )
        if len(spec.shape) != 4 or spec.shape[-1] != 3:
            channels = (
                "leaves the channels free"
                if len(spec.shape) == 4 and spec.shape[-1] is None
                else f"declares {spec.shape[-1]} channel{'s' * (spec.shape[-1] != 1)}"
                if len(spec.shape) == 4
                else f"has {len(spec.shape) - 1} axes besides the batch"
            )
            return (
                f"the model's input has shape {tuple(spec.shape)}: it {channels}, and photos "
                "arrive in RGB, 3 channels. The exported model's signature tells every client "
                "what to send: keras.Input((None, None, 3), dtype='uint8', name='image'), as "
                "the task says."
            )
        resizing = [layer for layer in model.layers if isinstance(layer, keras.layers.Resizing)]
        fixed = [
            (layer.height, layer.width)
            for layer in resizing
            if (layer.height, layer.width) != (_SIZE, _SIZE)
        ]
        if fixed:
            return (
                f"your model resizes to {fixed[0][0]}×{fixed[0][1]}, a size written in; resize "
                f"to image_size × image_size (here {_SIZE}), the argument."
            )
        order = _order_problem(model)
        if order:
            return order
        outputs = {}
        for what, image in photos.items():
            try:
                given = model(image[None], training=False)
                several = _several_outputs(given)
                if several:
                    return f"on a {what}, {several}"
                got = outputs[what] = np.asarray(given)[0]
            except Exception as exc:
                error = student_error(exc)
                raised = error if error.endswith(("…", ".")) else f"{error}."  # one full stop
                if any(options.get("pad_to_aspect_ratio") for options in _resizing_options(model)):
                    raise StudentCodeFailed(
                        f"calling your model on a {what} raised {raised} {PADDED}"
                    ) from None
                if "dtype uint8" in error:  # arithmetic with floats on the uint8 photo
                    raise StudentCodeFailed(
                        f"calling your model on a {what} raised {raised} The photo arrives as "
                        "uint8 pixels, which cannot hold 127.0 or a fraction. The task asks "
                        "for each step as a Keras layer: keras.layers.Rescaling, after the "
                        "Resizing, computes in float32 itself, as Resizing does."
                    ) from None
                raise StudentCodeFailed(f"calling your model on a {what} raised {error}") from None
            # As the task's model computes it: a Resizing layer on the uint8 photo rounds what
            # it gives to uint8. Resized as floats (a cast first), the probabilities differ by
            # up to about 1e-4, more on some photos than the tolerance: right too.
            expected = _reference(backbone, head, image, True, 1 / 128, -127 / 128, True)
            if got.shape != expected.shape:
                features = tuple(backbone.output_shape[1:])
                if got.shape == features:
                    return (
                        f"on a {what}, the model returned the backbone's features, shape "
                        f"{got.shape}, not the head's probabilities, shape {expected.shape}: "
                        "pass the backbone's output through the head."
                    )
                return (
                    f"on a {what}, the model returned shape {got.shape}, expected {expected.shape}."
                )
            if any(
                np.allclose(
                    got,
                    _reference(backbone, head, image, True, 1 / 128, -127 / 128, in_uint8),
                    atol=1e-4,
                )
                for in_uint8 in (True, False)
            ):
                continue
            variants = {
                "the photo was squashed to a square, not cropped: pass "
                "crop_to_aspect_ratio=True to the resize, as image_dataset_from_directory did "
                "for the training images.": (
                    False,
                    1 / 128,
                    -127 / 128,
                ),
                "the pixels were scaled to [0, 1]; EfficientNet-Lite was trained on (x - 127) "
                "/ 128.": (
                    True,
                    1 / 255,
                    0.0,
                ),
                "the pixels reach the backbone unscaled, 0 to 255; scale them to (x - 127) / "
                "128 inside the model.": (
                    True,
                    1.0,
                    0.0,
                ),
                "the photo was squashed, not cropped, and scaled to [0, 1]: "
                "crop_to_aspect_ratio=True, and (x - 127) / 128.": (False, 1 / 255, 0.0),
                "the pixels were scaled to [-1, 1] with 127.5; EfficientNet-Lite was trained on "
                "(x - 127) / 128: Rescaling(1 / 128, offset=-127 / 128).": (
                    True,
                    1 / 127.5,
                    -1.0,
                ),
            }
            # What the model's layers say they do: a variant they contradict is not named,
            # however close a tiny model's probabilities come (some draws come within 1e-4)
            crops = {bool(o.get("crop_to_aspect_ratio")) for o in _resizing_options(model)}
            layer_scalings = _rescalings(model) or _normalizations(model)
            for message, (crop, scale, offset) in variants.items():
                if len(crops) == 1 and crop not in crops:
                    continue
                if layer_scalings and not _same_scaling(_composed(layer_scalings), (scale, offset)):
                    continue
                if np.allclose(
                    got, _reference(backbone, head, image, crop, scale, offset), atol=1e-4
                ):
                    return f"on a {what}: {message}"
            resizes = [({"pad_to_aspect_ratio": True}, PADDED), *_OTHER_RESIZES]
            for options, message in resizes:
                crop = not options.get("pad_to_aspect_ratio", False)
                for in_uint8 in (True, False):  # a Resizing layer, or a resize after a cast
                    try:
                        wrong = _reference(
                            backbone, head, image, crop, 1 / 128, -127 / 128, in_uint8, **options
                        )
                    except Exception:  # Keras cannot pad uint8 with 0.0: nobody's answer then
                        continue
                    if np.allclose(got, wrong, atol=1e-4):
                        return f"on a {what}: {message}"
            for scale, offset, problem in _scalings(model):
                if _scaling_off(scale, offset) and any(
                    np.allclose(
                        got,
                        _reference(backbone, head, image, True, scale, offset, in_uint8),
                        atol=1e-4,
                    )
                    for in_uint8 in (True, False)
                ):
                    return f"on a {what}: {problem()}"
            if not _resizing_options(model):
                try:
                    unresized = np.asarray(
                        head(backbone(image[None].astype("float32") / 128 - 127 / 128))
                    )[0]
                except Exception:  # the backbone takes no other size: not what the model did
                    unresized = None
                if unresized is not None and np.allclose(got, unresized, atol=1e-4):
                    height, width = image.shape[:2]
                    return (
                        f"on a {what}: your model has no Resizing layer, and the photo reaches "
                        f"the backbone at its own size, {height}×{width}; the training images "
                        "were cropped and resized to image_size × image_size first: "
                        "keras.layers.Resizing(image_size, image_size, "
                        "crop_to_aspect_ratio=True, name='resize'), before the scaling."
                    )
            again = np.exp(expected - expected.max())
            if np.allclose(got, again / again.sum(), atol=1e-4):
                return (
                    f"on a {what}, your model's output is a softmax of the head's "
                    "probabilities: the head already ends in softmax, so a second one flattens "
                    "them towards 1/n each. Return the head's output as it is, head(x)."
                )
            if not _resizing_options(model) and any(
                isinstance(layer, keras.layers.CenterCrop) for layer in _layers_in_order(model)
            ):
                return (
                    f"on a {what}: your model cuts the photo's centre to image_size × "
                    "image_size with CenterCrop, which keeps a small patch of a large photo "
                    "instead of the whole photo scaled down; image_dataset_from_directory "
                    "cropped the training images to the aspect ratio and resized them: "
                    "keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True, "
                    "name='resize')."
                )
            return (
                f"on a {what}, the probabilities differ from the expected ones by up to "
                f"{np.abs(got - expected).max():.3g}: check each step: resize (bilinear, cropped "
                "to the aspect ratio), scale to (x - 127) / 128, then the backbone and the head."
            )
        # A scale a little off can change a tiny model's probabilities by less than the
        # tolerance: the Rescaling layers say what the model computes
        rescalings = _rescalings(model)
        if rescalings and _scaling_off(*_composed(rescalings)):
            scale, offset = _composed(rescalings)
            for what, image in photos.items():
                expected = _reference(backbone, head, image, True, 1 / 128, -127 / 128)
                theirs = min(
                    np.abs(
                        outputs[what]
                        - _reference(backbone, head, image, True, scale, offset, in_uint8)
                    ).max()
                    for in_uint8 in (True, False)
                )
                if theirs < np.abs(outputs[what] - expected).max():
                    return f"on a {what}: {_rescaling_problem(rescalings)}"
        if _called_without_training_false(model, backbone):
            return (
                "the backbone is not called with training=False (it was left out, or True): "
                "call it as "
                "backbone(x, training=False), so that its BatchNormalization layers keep "
                "their statistics if the model is ever trained or fine-tuned."
            )
        # The model computes the right thing: now the names the task gives, which the
        # exported signature and the lesson's later cells use
        entries = [
            layer.name for layer in model.layers if isinstance(layer, keras.layers.InputLayer)
        ]
        name = entries[0] if entries else str(getattr(spec, "name", ""))
        if name != "image":
            return (
                f"the model's input is named {name!r}; name it 'image', "
                "keras.Input(..., name='image'): a client of the exported model sends the "
                "photo under that name."
            )
        try:
            found = model.get_layer("resize")
        except ValueError:
            found = None
        if not isinstance(found, keras.layers.Resizing):
            return (
                "model.get_layer('resize') finds no Resizing layer in your model: resize with "
                "keras.layers.Resizing(..., name='resize') as a layer of the model itself, as "
                "the task says; the lesson finds it by that name."
            )
        normalizations = _normalizations(model) if _rescalings(model) == [] else None
        if normalizations:  # the scaling as a Normalization layer: a Keras layer too
            scale, offset = _composed(normalizations)
            if _scaling_off(scale, offset):
                return _normalization_problem(scale, offset)
        elif _rescalings(model) == []:  # None: a Rescaling whose scale is not one number
            lambdas = [
                layer for layer in _layers_in_order(model) if isinstance(layer, keras.layers.Lambda)
            ]
            where = f" (your Lambda layer {lambdas[0].name!r} computes it)" if lambdas else ""
            saved = (
                " A Lambda layer is saved as Python code, which keras.models.load_model "
                "refuses to load unless safe_mode=False."
                if lambdas
                else ""
            )
            return (
                f"your model scales the pixels without a keras.layers.Rescaling layer{where}: "
                "the task asks for each step as a Keras layer, and for this scaling that is "
                "Rescaling(1 / 128, offset=-127 / 128), saved as two numbers." + saved
            )
        return None

    return run_check(
        "9.3",
        diagnose,
        "uint8 photos of any size in: cropped, resized and scaled inside the model, "
        "as the training images were.",
    )
