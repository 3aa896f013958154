"""imports/sources.py: the manifest argument (XCom, URI, rendered list) and object URIs."""

from __future__ import annotations

import pytest

from airflow_provider_ango.imports.sources import manifest_uris, split_object_uri


def test_manifest_arguments_and_object_uris() -> None:
    xcom = {"manifests": ["s3://b/m/a-00000.ndjson", "s3://b/m/a-00001.ndjson"], "counts": {}}
    assert manifest_uris(xcom) == xcom["manifests"]
    assert manifest_uris("s3://b/m/a-00000.ndjson") == ["s3://b/m/a-00000.ndjson"]
    assert manifest_uris(str(xcom)) == xcom["manifests"]  # rendered without native types
    assert manifest_uris('["gs://b/x.ndjson"]') == ["gs://b/x.ndjson"]
    assert split_object_uri("wasb://c@acct/p/q/m.ndjson") == ("wasb://c@acct/p/q/", "m.ndjson")
    assert split_object_uri("s3://b/m.ndjson") == ("s3://b/", "m.ndjson")
    for bad in ("s3://b", "s3://b/", "s3://b/folder/"):
        with pytest.raises(ValueError, match="does not name an object"):
            split_object_uri(bad)
    with pytest.raises(ValueError, match="no 'manifests' key"):
        manifest_uris({"counts": {}})
