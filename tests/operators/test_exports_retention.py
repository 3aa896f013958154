"""``delete_staged``: the staged zip is deleted once a landing is complete, and kept otherwise."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from airflow_provider_ango.arguments import flag
from airflow_provider_ango.exceptions import AngoConfigError, AngoExportFormatError
from tests.exports.helpers import (
    land_op,
    landed_records,
    list_keys,
    make_dag,
    run_context,
    seed_labeled,
    trigger_op,
)

if TYPE_CHECKING:
    from airflow_provider_ango.emulator import AngoEmulator
    from airflow_provider_ango.testing.plugin import TestBucket


@pytest.mark.emulator
def test_the_staged_zip_is_deleted_after_a_complete_landing_only(
    ango: AngoEmulator, ango_connection: str, new_bucket: Callable[[str], TestBucket]
) -> None:
    bucket = new_bucket("s3")
    project = seed_labeled(ango, ["a.jpg", "b.jpg", "c.jpg"])
    dag = make_dag()
    context = run_context(run_id="manual__retention")
    staged = trigger_op(project["_id"], f"{bucket.uri}/staging", dag=dag).execute(context)
    zip_key = "staging/ango_export_test/manual__retention/export.zip"
    assert list_keys(f"{bucket.uri}/staging/", bucket.conn_id) == [zip_key.removeprefix("staging/")]

    # The default keeps it: another landing (another layout, a re-run) can read it again.
    kept = f"{bucket.uri}/lake/kept/"
    land_op(staged, kept, dag=dag, task_id="land_kept").execute(context)
    assert len(landed_records(kept, bucket.conn_id)) == 3
    assert list_keys(f"{bucket.uri}/staging/", bucket.conn_id) == [zip_key.removeprefix("staging/")]

    # A templated switch, as Jinja renders it: the text "True".
    deleting = land_op(
        staged,
        f"{bucket.uri}/lake/dt=2024-05-01/",
        delete_staged="{{ params.clean }}",
        dag=dag,
        task_id="land",
    )
    deleting.render_template_fields({**context, "params": {"clean": True}})  # type: ignore[arg-type]
    assert deleting.delete_staged == "True"
    result = deleting.execute(context)
    assert result["records"] == 3
    assert len(landed_records(f"{bucket.uri}/lake/dt=2024-05-01/", bucket.conn_id)) == 3
    assert list_keys(f"{bucket.uri}/staging/", bucket.conn_id) == []


@pytest.mark.emulator
def test_a_failed_landing_keeps_the_staged_zip(new_bucket: Callable[[str], TestBucket]) -> None:
    from airflow_provider_ango.hooks.bucket import BucketHook

    bucket = new_bucket("s3")
    hook = BucketHook.from_uri(bucket.uri, bucket.conn_id)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("export.json", b'[{"externalId": "a.jpg", ')  # cut off: not Ango's JSON
    hook.write_bytes("staging/broken/export.zip", archive.getvalue())
    destination = f"{bucket.uri}/lake/dt=2024-05-01/"
    operator = land_op(f"{bucket.uri}/staging/broken/export.zip", destination, delete_staged=True)
    with pytest.raises(AngoExportFormatError, match="Nothing was landed"):
        operator.execute(run_context())
    assert list_keys(f"{bucket.uri}/staging/", bucket.conn_id) == ["broken/export.zip"]
    assert list_keys(f"{bucket.uri}/lake/", bucket.conn_id) == []


def test_delete_staged_takes_a_bool_or_its_rendered_text() -> None:
    assert [flag(value, "delete_staged") for value in (True, "True", " yes ", "1", 1)] == [True] * 5
    assert [flag(value, "delete_staged") for value in (False, "False", "no", "0", "", None)] == [False] * 6
    with pytest.raises(AngoConfigError, match=r"delete_staged: 'later' is not a switch; give True or False"):
        flag("later", "delete_staged")
