"""imports/answers.py: classification answers against the ontology (types, options, required)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_ango.imports.answers import Ontology, answer_problems
from airflow_provider_ango.models.api import CategorySchema

SCHEMA = CategorySchema.model_validate(
    {
        "tools": [
            {
                "tool": "bounding-box",
                "title": "Car",
                "schemaId": "car",
                "classifications": [
                    {
                        "tool": "radio",
                        "title": "Color",
                        "schemaId": "color",
                        "required": True,
                        "options": [{"value": "red", "schemaId": "opt-red"}, {"value": "blue"}],
                    }
                ],
            }
        ],
        "classifications": [
            {"tool": "text", "title": "Note", "schemaId": "note"},
            {
                "tool": "checkbox",
                "title": "Tags",
                "schemaId": "tags",
                "options": [{"value": "night"}, {"value": "rain"}],
            },
            {"tool": "tree-dropdown", "title": "Kind", "schemaId": "kind"},
            {"tool": "boolean", "title": "Blurry", "schemaId": "blurry"},
            {"tool": "single-dropdown", "title": "Weather", "schemaId": "weather", "required": True},
        ],
    }
)
ONTOLOGY = Ontology.of(SCHEMA)


def car(answer: Any = "red", **more: Any) -> dict[str, Any]:
    color = {"schemaId": "color", "answer": answer, **more}
    return {
        "schemaId": "car",
        "bounding-box": {"x": 1, "y": 1, "width": 2, "height": 2},
        "classifications": [color],
    }


def item(*classifications: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    weather = {"schemaId": "weather", "answer": "sunny"}
    given = list(classifications)
    if classifications and not any(entry["schemaId"] == "weather" for entry in given):
        given.append(weather)
    return {"externalId": "a.jpg", "tools": tools or [], "classifications": given}


def test_answers_that_fit_their_types_and_options_pass() -> None:
    raw = item(
        {"schemaId": "note", "answer": "free text"},
        {"schemaId": "tags", "answer": ["night", "rain"]},
        {"schemaId": "kind", "answer": ["vehicle", "vehicle / car"]},
        {"schemaId": "blurry", "answer": False},
        tools=[car("red"), car("opt-red"), car("blue")],  # an option by value or by schemaId
    )
    assert answer_problems(ONTOLOGY, raw) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            item(tools=[car(42)]),
            "radio 'Color' (color) is answered with int 42; it takes one option ('red', 'blue')",
        ),
        (
            item(tools=[car("green")]),
            "radio 'Color' (color) has no option 'green'; its options are 'red', 'blue'",
        ),
        (item({"schemaId": "note", "answer": {"text": "x"}}), "text 'Note' (note) is answered with dict"),
        (
            item({"schemaId": "tags", "answer": "night"}),
            "checkbox 'Tags' (tags) is answered with str 'night'; it takes a list",
        ),
        (
            item({"schemaId": "tags", "answer": ["night", "snow"]}),
            "checkbox 'Tags' (tags) has no option(s) 'snow'",
        ),
        (item({"schemaId": "kind", "answer": [1, 2]}), "tree-dropdown 'Kind' (kind) is answered with list"),
        (
            item({"schemaId": "blurry", "answer": "maybe"}),
            "boolean 'Blurry' (blurry) is answered with str 'maybe'",
        ),
        (item(tools=[car("")]), "radio 'Color' (color) is required and has no answer"),
        (item({"schemaId": "note"}), "text 'Note' (note) has no answer"),
        (
            item(tools=[{"schemaId": "car", "classifications": []}]),
            "tool 0 ('Car'): required radio 'Color' (color) is not answered",
        ),
        (
            {"externalId": "a.jpg", "classifications": [{"schemaId": "note", "answer": "x"}]},
            "classifications: required single-dropdown 'Weather' (weather) is not answered",
        ),
    ],
)
def test_wrong_answers_are_named_with_what_they_take(raw: dict[str, Any], expected: str) -> None:
    problems = answer_problems(ONTOLOGY, raw)
    assert any(expected in problem for problem in problems), problems


def test_an_item_with_boxes_only_needs_no_top_level_answers() -> None:
    assert answer_problems(ONTOLOGY, item(tools=[car("red")])) == []
