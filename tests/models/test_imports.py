"""models/imports.py: the examples of Ango's import documentation validate as they are; bad items and
labels are refused with a reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airflow_provider_ango.models.imports import AngoImportItem, LabelItem, validation_reason


@pytest.mark.parametrize(
    "item",
    [
        {"data": "https://url-to-asset.com/CzXTtJV.jpg", "externalId": "cute-cat.jpg"},
        {
            "data": "https://url-to-asset.com/CzXTtJV.mp4",
            "externalId": "cute-cat.mp4",
            "metadata": {"frameRate": 24, "frameCount": 150, "width": 450, "height": 450},
        },
        {
            "data": "https://url-to-asset.com/a.mp4",
            "externalId": "a.mp4",
            "metadata": {"frameRate": 29.97, "frameCount": 10, "width": 450.5, "height": 450},
        },
        {"data": "https://url-to-asset.com/2.mp4", "externalId": "asset-2.mp4", "batches": ["b1", "b2"]},
        {
            "data": "https://bucket-name.s3.eu-central-1.amazonaws.com/file%202.jpg",
            "externalId": "cute-dog.jpg",
            "width": 1800,
            "height": 1200,
        },
        {"data": "https://i.imgur.com/CzXTtJV.jpg", "externalId": "x", "contextData": {"key1": "value1"}},
        {
            "data": [{"data": "https://h/p1.png", "externalId": "p1"}, "https://h/p2.png"],
            "externalId": "multi",
        },
        {
            "data": "https://h/a.jpg",
            "externalId": "with-extras",
            "attachments": [{"type": "IMAGE", "value": "https://h/ref.jpg"}, {"type": "TEXT", "value": "hi"}],
            "storage": "0123456789abcdef01234567",
            "somethingAngoAddsLater": True,
        },
    ],
)
def test_seed_shapes_validate_and_round_trip(item: dict[str, object]) -> None:
    model = AngoImportItem.model_validate(item)
    assert model.to_json_dict() == item  # unknown keys are kept, nothing is added


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"data": "https://h/a b.jpg", "externalId": "x"}, "whitespace"),
        ({"data": "https://h/a+b.jpg ", "externalId": "x"}, "whitespace"),
        ({"data": "https://h/caf\u00e9.jpg", "externalId": "x"}, "non-ASCII"),
        ({"data": "s3://bucket/a.jpg", "externalId": "x"}, "absolute http"),
        ({"data": "https://h/100%.jpg", "externalId": "x"}, "%XX"),
        ({"data": "https://h/a.jpg", "externalId": ""}, "externalId"),
        ({"data": "https://h/a.jpg"}, "externalId"),
        ({"data": "https://h/a.jpg", "externalID": "x"}, "spelled 'externalId'"),
        ({"data": "https://h/a.mp4", "externalId": "x", "metadata": {"frameCount": 2.5}}, "frameCount"),
        ({"data": "https://h/a.mp4", "externalId": "x", "metadata": {"frameRate": 0}}, "frameRate"),
        ({"data": "https://h/a.mp4", "externalId": "x", "metadata": {"width": True}}, "width"),
        ({"data": [], "externalId": "x"}, "at least one page"),
        ({"data": "https://h/a.jpg", "externalId": "x", "batches": [""]}, "empty"),
        ({"data": "https://h/a.jpg", "externalId": "x", "storage": "my-storage"}, "24 hex"),
        (
            {"data": "https://h/a.jpg", "externalId": "x", "attachments": [{"type": "PDF", "value": "v"}]},
            "type",
        ),
    ],
)
def test_bad_items_are_refused_with_a_reason(item: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AngoImportItem.model_validate(item)
    assert reason in validation_reason(caught.value)


def test_label_item_accepts_objects_and_lists_every_schema_reference() -> None:
    item = LabelItem.model_validate(
        {
            "externalId": "a.jpg",
            "objects": [
                {
                    "schemaId": "tool1",
                    "bounding-box": {"x": 1, "y": 2, "width": 3, "height": 4},
                    "classifications": [{"schemaId": "nested1", "answer": "x"}],
                }
            ],
            "classifications": [{"schemaId": "cls1", "answer": "1", "classifications": [{"schemaId": "n2"}]}],
            "relations": [{"schemaId": "rel1", "from": "a", "to": "b"}],
        }
    )
    assert list(item.schema_refs()) == [
        ("tools", "tool1"),
        ("classifications", "nested1"),
        ("classifications", "cls1"),
        ("classifications", "n2"),
        ("relations", "rel1"),
    ]
    with pytest.raises(ValidationError, match="schemaId"):
        LabelItem.model_validate({"externalId": "a", "tools": [{"bounding-box": {}}]})
