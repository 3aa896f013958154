"""AngoImportLabelsOperator against the Ango emulator: pre-labels from JSON and NDJSON files in chunks,
unknown schema ids and externalIds refused before anything is posted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from airflow_provider_ango.imports.labels import LabelValidationError
from airflow_provider_ango.operators.imports import AngoImportLabelsOperator
from tests.imports.helpers import Store, last_seq, run_context

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator

pytestmark = pytest.mark.emulator


def label(external_id: str, tool: str = "car", note: str = "note") -> dict[str, Any]:
    return {
        "externalId": external_id,
        "tools": [
            {
                "schemaId": tool,
                "bounding-box": {"x": 1, "y": 2, "width": 30, "height": 40},
                "classifications": [{"schemaId": "color", "answer": "red"}],
            }
        ],
        "classifications": [{"schemaId": note, "answer": "from the model"}],
        "relations": [],
    }


def seed_assets(ango: AngoEmulator, project_id: str, names: list[str]) -> None:
    from airflow_provider_ango.hooks.ango import AngoHubHook

    items = [{"data": f"https://cdn.example.com/{name}", "externalId": name} for name in names]
    hook = AngoHubHook()
    try:
        hook.import_cloud_assets(project_id, items)
    finally:
        hook.close()


def import_labels(store: Store, project_id: str, source: Any, **kwargs: Any) -> dict[str, Any]:
    operator = AngoImportLabelsOperator(
        task_id="labels", project_id=project_id, source=source, source_conn_id=store.bucket.conn_id, **kwargs
    )
    result: dict[str, Any] = operator.execute(run_context(None, None))  # type: ignore[arg-type]
    return result


def test_labels_from_json_array_and_ndjson_files_are_imported_in_chunks(
    store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    names = [f"img-{n}.jpg" for n in range(7)]
    seed_assets(ango, project["_id"], names)
    array = orjson.dumps([label(name) for name in names[:4]], option=orjson.OPT_INDENT_2)
    ndjson = b"\n".join(orjson.dumps(label(name)) for name in names[4:]) + b"\n"
    store.hook.write_bytes("predictions/batch-1.json", array)
    store.hook.write_bytes("predictions/batch-2.ndjson", ndjson)
    store.hook.write_bytes("predictions/README.txt", b"not a label file")
    since = last_seq(ango)
    result = import_labels(store, project["_id"], f"{store.bucket.uri}/predictions/", chunk_size=3)
    assert result == {"items": 7, "annotations": 21, "submitted": 7, "chunks": 3}
    posts = [entry for entry in ango.control.requests(since=since) if entry["method"] == "POST"]
    assert [len(entry["body"]["jsonContent"]) for entry in posts] == [3, 3, 1]
    assert ango.control.counts(project["_id"])["preLabeled"] == 7


def test_unknown_schema_ids_and_external_ids_fail_listing_them_and_post_nothing(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    seed_assets(ango, project["_id"], ["a.jpg", "b.jpg", "c.jpg"])
    lines = [
        label("a.jpg"),
        label("b.jpg", tool="truck"),  # no such tool in the ontology
        label("c.jpg", note="mood"),  # no such classification
        label("ghost.jpg"),  # no such asset
        {"externalId": "a.jpg", "tools": [{"bounding-box": {}}]},  # no schemaId at all
    ]
    s3_store.hook.write_bytes("labels.ndjson", b"\n".join(orjson.dumps(line) for line in lines))
    since = last_seq(ango)
    with pytest.raises(LabelValidationError) as caught:
        import_labels(s3_store, project["_id"], f"{s3_store.bucket.uri}/labels.ndjson")
    message = str(caught.value)
    assert "4 problem(s)" in message
    assert "nothing was imported" in message
    assert "labels.ndjson:2: externalId 'b.jpg': unknown schemaId 'truck' (tools)" in message
    assert "labels.ndjson:3: externalId 'c.jpg': unknown schemaId 'mood' (classifications)" in message
    assert "labels.ndjson:5: externalId 'a.jpg': tools.0.schemaId: Field required" in message
    assert "labels.ndjson:4: unknown externalId 'ghost.jpg' (no such asset)" in message
    writes = [entry for entry in ango.control.requests(since=since) if entry["method"] == "POST"]
    assert writes == []
    assert ango.control.counts(project["_id"])["preLabeled"] == 0


def test_an_externalid_twice_in_the_labels_is_refused(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    seed_assets(ango, project["_id"], ["a.jpg"])
    s3_store.hook.write_bytes("l.json", orjson.dumps([label("a.jpg"), label("a.jpg")]))
    with pytest.raises(LabelValidationError, match=r"l.json#1: externalId 'a.jpg' appears more than once"):
        import_labels(s3_store, project["_id"], f"{s3_store.bucket.uri}/l.json")


def test_answers_that_do_not_fit_the_ontology_are_refused_before_anything_is_posted(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    seed_assets(ango, project["_id"], names)
    radio_number = label("a.jpg")
    radio_number["tools"][0]["classifications"][0]["answer"] = 42
    text_object = label("b.jpg")
    text_object["classifications"][0]["answer"] = {"text": "from the model"}
    no_answer = label("c.jpg")
    del no_answer["classifications"][0]["answer"]
    lines = [orjson.dumps(item) for item in (radio_number, text_object, no_answer, label("d.jpg"))]
    s3_store.hook.write_bytes("preds/answers.ndjson", b"\n".join(lines) + b"\n")
    uri = f"{s3_store.bucket.uri}/preds/answers.ndjson"
    before = last_seq(ango)
    with pytest.raises(LabelValidationError) as refused:
        import_labels(s3_store, project["_id"], uri)
    message = str(refused.value)
    assert "3 problem(s)" in message
    assert f"{uri}:1: externalId 'a.jpg': tool 0 ('Car') > 'Color'" not in message  # nested under the tool
    assert (
        f"{uri}:1: externalId 'a.jpg': tool 0 ('Car'): radio 'Color' (color) is answered with int 42"
        in message
    )
    assert (
        f"{uri}:2: externalId 'b.jpg': classifications: text 'Note' (note) is answered with dict" in message
    )
    assert f"{uri}:3: externalId 'c.jpg': classifications: text 'Note' (note) has no answer" in message
    posts = [entry for entry in ango.control.requests(since=before) if entry["method"] == "POST"]
    assert posts == []


def test_a_label_file_that_does_not_exist_is_named_before_anything_is_read(
    s3_store: Store, ango: AngoEmulator, project: dict[str, Any]
) -> None:
    from airflow_provider_ango.exceptions import AngoInputNotFoundError

    uri = f"{s3_store.bucket.uri}/preds/missing.ndjson"
    before = last_seq(ango)
    with pytest.raises(
        AngoInputNotFoundError, match=r"label file s3://.*/preds/missing.ndjson does not exist"
    ):
        import_labels(s3_store, project["_id"], uri)
    assert ango.control.requests(since=before) == []
