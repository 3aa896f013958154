"""hooks/bucket/select.py: include/exclude globs over listed keys."""

from __future__ import annotations

import pytest

from airflow_provider_ango.hooks.bucket import BucketArgumentError
from airflow_provider_ango.hooks.bucket.select import KeyFilter

KEYS = ["a.jpg", "b.png", "img/c.jpg", "img/deep/d.jpg", "img/deep/e.txt", "x[1].jpg", "Upper.JPG"]


@pytest.mark.parametrize(
    ("include", "exclude", "kept"),
    [
        (None, None, KEYS),
        ("*.jpg", None, ["a.jpg", "x[1].jpg"]),
        ("**/*.jpg", None, ["a.jpg", "img/c.jpg", "img/deep/d.jpg", "x[1].jpg"]),
        ("img/**", "**/*.txt", ["img/c.jpg", "img/deep/d.jpg"]),
        ("img/*", None, ["img/c.jpg"]),
        ("**", "img/**", ["a.jpg", "b.png", "x[1].jpg", "Upper.JPG"]),
        (["*.png", "img/deep/*"], None, ["b.png", "img/deep/d.jpg", "img/deep/e.txt"]),
        ("?.jpg", None, ["a.jpg"]),
        ("[ab].*", None, ["a.jpg", "b.png"]),
        ("[!ab]*.jpg", None, ["x[1].jpg"]),
        ("x[[]1].jpg", None, ["x[1].jpg"]),
        ("img?c.jpg", None, []),  # ? never matches /
        ("*.JPG", None, ["Upper.JPG"]),  # case-sensitive
        (None, "*", ["img/c.jpg", "img/deep/d.jpg", "img/deep/e.txt"]),
        ("img/**/*.jpg", None, ["img/c.jpg", "img/deep/d.jpg"]),
    ],
)
def test_glob_filters(include: object, exclude: object, kept: list[str]) -> None:
    keep = KeyFilter(include, exclude)  # type: ignore[arg-type]
    assert [key for key in KEYS if keep(key)] == kept


def test_bad_patterns_are_refused() -> None:
    with pytest.raises(BucketArgumentError):
        KeyFilter([""], None)
    with pytest.raises(BucketArgumentError):
        KeyFilter(None, [3])  # type: ignore[list-item]
