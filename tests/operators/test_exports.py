"""operators/exports.py without a server: the default Asset, the source argument, outlets, layout and
compression checks."""

from __future__ import annotations

from typing import Any

import pytest


def test_default_asset_is_the_static_part_of_the_destination() -> None:
    from airflow_provider_ango.operators.exports import default_asset

    assert (
        default_asset("s3://lake/ango/project={{ params.project_id }}/dt={{ ds }}/").uri == "s3://lake/ango"
    )
    assert default_asset("gs://lake/ango/exports/").uri == "gs://lake/ango/exports"
    with pytest.raises(ValueError, match="pass asset="):
        default_asset("{{ var.value.lake }}/ango/")


def test_source_info_accepts_the_xcom_or_a_uri() -> None:
    from airflow_provider_ango.exceptions import AngoExportConfigError
    from airflow_provider_ango.operators.exports import source_info

    assert source_info("s3://b/x/export.zip") == {"staging_uri": "s3://b/x/export.zip"}
    assert source_info({"staging_uri": "s3://b/e.zip", "sha256": "x"})["sha256"] == "x"
    with pytest.raises(AngoExportConfigError, match=r"source=trigger_task\.output"):
        source_info("{'staging_uri': ...}")


def test_land_operator_declares_its_asset_as_an_outlet() -> None:
    from airflow.sdk import Asset

    from airflow_provider_ango.operators.exports import AngoLandExportOperator

    other = Asset("s3://elsewhere/x")
    operator = AngoLandExportOperator(
        task_id="land", source="s3://b/e.zip", destination_uri="s3://lake/ango/dt={{ ds }}/", outlets=[other]
    )
    assert operator.outlets == [other, Asset("s3://lake/ango")]
    quiet = AngoLandExportOperator(
        task_id="quiet", source="s3://b/e.zip", destination_uri="s3://lake/x/", emit_asset=False
    )
    assert quiet.outlets == []
    bad_layout: Any = "csv"
    with pytest.raises(ValueError, match="layout 'csv' is unknown"):
        AngoLandExportOperator(
            task_id="bad", source="s3://b/e.zip", destination_uri="s3://l/x/", layout=bad_layout
        )


def test_compression_only_for_part_layouts() -> None:
    from airflow_provider_ango.operators.exports import AngoLandExportOperator

    with pytest.raises(ValueError, match="compression applies to the ndjson and json layouts"):
        AngoLandExportOperator(
            task_id="c",
            source="s3://b/e.zip",
            destination_uri="s3://l/x/",
            layout="split",
            compression="gzip",
        )


def test_a_templated_layout_is_checked_once_rendered() -> None:
    from airflow_provider_ango.operators.exports import AngoLandExportOperator

    operator = AngoLandExportOperator(
        task_id="land",
        source="s3://b/e.zip",
        destination_uri="s3://l/x/",
        layout="{{ params.layout }}",
        emit_asset=False,
    )
    assert "layout" in operator.template_fields
    operator.layout = "csv"  # what rendering a bad Param gives
    with pytest.raises(ValueError, match="layout 'csv' is unknown"):
        operator.execute({})  # type: ignore[arg-type]
