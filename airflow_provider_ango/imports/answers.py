"""Pre-label classification answers checked against the project's ontology, before anything is sent.

The answer shapes follow Ango's export format (the import format carries the same ``answer``):

============================  ==========================================================
classification type           ``answer``
============================  ==========================================================
radio, single-dropdown        one string: an option of the classification
checkbox, multi-dropdown      a list of strings, each an option of the classification
tree-dropdown                 a list of strings (paths such as ``"1 / 2"``)
text                          a string
boolean                       ``true`` or ``false``
instance                      not checked (its shape is not documented)
============================  ==========================================================

An option is named by its ``value`` or its ``schemaId`` (both identify it in the ontology). A
classification the ontology marks ``required`` must be answered (not empty) wherever it is given;
a tool's required nested classifications must be answered on every annotation of that tool; and an
item that answers top-level classifications must answer the required ones among them. Ango itself
accepts some of these and stores a pre-label the labeling editor cannot show, which is why they
are refused here, naming the item, the classification and what it expects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ango.models.api import CategorySchema, CategorySchemaItem

SINGLE_CHOICE = frozenset({"radio", "single-dropdown"})
MULTI_CHOICE = frozenset({"checkbox", "multi-dropdown"})


@dataclass
class Ontology:
    """The category schema indexed for answer checks."""

    classifications: dict[str, CategorySchemaItem] = field(default_factory=dict)
    tools: dict[str, CategorySchemaItem] = field(default_factory=dict)
    top_level: list[CategorySchemaItem] = field(default_factory=list)

    @classmethod
    def of(cls, schema: CategorySchema | None) -> Ontology:
        ontology = cls()
        if schema is None:
            return ontology

        def index(items: Iterable[CategorySchemaItem]) -> None:
            for item in items:
                ontology.classifications.setdefault(item.schema_id, item)
                index(item.classifications)

        for tool in schema.tools:
            ontology.tools.setdefault(tool.schema_id, tool)
            index(tool.classifications)
        index(schema.classifications)
        ontology.top_level = list(schema.classifications)
        return ontology


def _options(item: CategorySchemaItem) -> set[str]:
    names: set[str] = set()
    for option in item.options:
        names.add(option.value)
        if option.schema_id:
            names.add(option.schema_id)
    return names


def _describe(item: CategorySchemaItem) -> str:
    return f"{item.tool} {item.title!r} ({item.schema_id})"


def _listed_options(item: CategorySchemaItem) -> str:
    return ", ".join(repr(option.value) for option in item.options[:10]) or "none"


def _empty(answer: Any) -> bool:
    return answer is None or answer == "" or answer == [] or answer == {}


def answer_problem(item: CategorySchemaItem, annotation: dict[str, Any]) -> str | None:
    """What is wrong with one classification annotation's answer, or None."""
    what = _describe(item)
    if "answer" not in annotation or _empty(annotation.get("answer")):
        if item.required:
            return f"{what} is required and has no answer; answer it, or leave the classification out"
        if "answer" not in annotation:
            return f"{what} has no answer; give one, or leave the classification out"
        return None
    answer = annotation["answer"]
    options = _options(item)
    if item.tool in SINGLE_CHOICE or item.tool == "text":
        if not isinstance(answer, str):
            expected = "one option" if item.tool in SINGLE_CHOICE else "a string"
            listed = f" ({_listed_options(item)})" if item.tool in SINGLE_CHOICE else ""
            return f"{what} is answered with {_shown(answer)}; it takes {expected}{listed}"
        if item.tool in SINGLE_CHOICE and options and answer not in options:
            return f"{what} has no option {answer!r}; its options are {_listed_options(item)}"
        return None
    if item.tool in MULTI_CHOICE or item.tool == "tree-dropdown":
        if not isinstance(answer, list) or not all(isinstance(value, str) for value in answer):
            return f"{what} is answered with {_shown(answer)}; it takes a list of strings" + (
                f" among {_listed_options(item)}" if item.tool in MULTI_CHOICE else " (tree paths)"
            )
        checked = item.tool in MULTI_CHOICE and options
        unknown = [value for value in answer if checked and value not in options]
        if unknown:
            names = ", ".join(map(repr, unknown[:5]))
            return f"{what} has no option(s) {names}; its options are {_listed_options(item)}"
        return None
    if item.tool == "boolean" and not isinstance(answer, bool) and answer not in ("true", "false"):
        return f"{what} is answered with {_shown(answer)}; it takes true or false"
    return None


def _shown(value: Any) -> str:
    """``int 42``, ``dict {'a': 1}``: the answer's JSON type and value, cut short."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _annotations(raw: Any) -> list[dict[str, Any]]:
    return [entry for entry in raw if isinstance(entry, dict)] if isinstance(raw, list) else []


def _missing_required(
    required: Iterable[CategorySchemaItem], given: list[dict[str, Any]], where: str
) -> Iterator[str]:
    answered = {entry.get("schemaId") for entry in given}
    for item in required:
        if item.required and item.schema_id not in answered:
            yield f"{where}: required {_describe(item)} is not answered; add its answer"


def _check_classifications(ontology: Ontology, entries: list[dict[str, Any]], where: str) -> Iterator[str]:
    for entry in entries:
        schema_id = entry.get("schemaId")
        item = ontology.classifications.get(schema_id) if isinstance(schema_id, str) else None
        if item is None:
            continue  # an unknown schemaId is reported by the schemaId check
        problem = answer_problem(item, entry)
        if problem is not None:
            yield f"{where}: {problem}"
        nested = _annotations(entry.get("classifications"))
        yield from _check_classifications(ontology, nested, f"{where} > {item.title!r}")


def answer_problems(ontology: Ontology, raw: dict[str, Any]) -> list[str]:
    """Every answer problem of one pre-label item (the Ango Import Format, as parsed JSON)."""
    problems: list[str] = []
    tools = _annotations(raw.get("tools", raw.get("objects")))
    for position, tool in enumerate(tools):
        definition = ontology.tools.get(tool.get("schemaId"))  # type: ignore[arg-type]
        nested = _annotations(tool.get("classifications"))
        label = f"tool {position} ({definition.title!r})" if definition else f"tool {position}"
        problems.extend(_check_classifications(ontology, nested, label))
        if definition is not None:
            problems.extend(_missing_required(definition.classifications, nested, label))
    top = _annotations(raw.get("classifications"))
    problems.extend(_check_classifications(ontology, top, "classifications"))
    if top:
        problems.extend(_missing_required(ontology.top_level, top, "classifications"))
    return problems


__all__ = ["MULTI_CHOICE", "SINGLE_CHOICE", "Ontology", "answer_problem", "answer_problems"]
