"""delta-rs storage options from the Airflow connections the provider already uses.

delta-rs (through Rust's ``object_store``) has its own clients: it reads no boto3 session,
no google-auth file and no ``BlobServiceClient``. So the credentials are resolved here with
Airflow's own hooks, whatever form the connection has, and handed over as options:

- **S3 / MinIO** (``aws_default``): ``S3Hook.get_credentials()`` (keys, a role it assumes, a
  profile: the frozen keys and session token), the connection's region and ``endpoint_url``
  (MinIO, moto), and ``aws_conditional_put=etag``: commits are ``PUT If-None-Match: *``, so
  two writers never overwrite each other's log entry. No DynamoDB, no lock service.
- **GCS** (``google_cloud_default``): ``key_path`` or ``keyfile_dict`` of the connection (a
  service-account key), ``is_anonymous`` (no signature), else the environment's Application
  Default Credentials, which ``object_store`` finds itself; an emulator endpoint
  (``STORAGE_EMULATOR_HOST``) becomes ``google_base_url``.
- **Azure Blob** (``wasb_default``): the ``BlobServiceClient`` of ``WasbHook`` gives the
  account, the endpoint (Azurite or another non-public blob endpoint goes as
  ``azure_storage_endpoint``) and the credential: an account key, a SAS, or an OAuth token
  from its token credential (service principal, managed identity, workload identity).

:class:`StorageOptions` never shows its values: not in ``repr``, not in logs, not in errors
(:meth:`StorageOptions.scrub` removes them from any text), and each secret is registered
with Airflow's log masker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_ango.exceptions import AngoExportConfigError
from airflow_provider_ango.hooks.bucket.address import is_aws_endpoint
from airflow_provider_ango.hooks.bucket.base import BucketLocation
from airflow_provider_ango.redaction import scrub_text

DEFAULT_CONN_IDS = {"s3": "aws_default", "gcs": "google_cloud_default", "azure": "wasb_default"}
PUBLIC_GCS = {"https://storage.googleapis.com", "https://www.googleapis.com"}
AZURE_STORAGE_SCOPE = "https://storage.azure.com/.default"
_GCP_PREFIX = "extra__google_cloud_platform__"


@dataclass(frozen=True)
class StorageOptions:
    """Options for delta-rs; the values of ``secrets`` are credentials."""

    values: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"StorageOptions(keys={sorted(self.values)})"

    __str__ = __repr__

    def as_dict(self) -> dict[str, str]:
        """A copy for delta-rs; never log it."""
        return dict(self.values)

    def scrub(self, text: str) -> str:
        """``text`` with every secret, URL query and signature parameter removed."""
        return scrub_text(text, self.secrets)


def _mask(secrets: tuple[str, ...]) -> None:
    from airflow.sdk.log import mask_secret

    for secret in secrets:
        if secret:
            mask_secret(secret)


def _http(endpoint: str, options: dict[str, str]) -> None:
    if endpoint.lower().startswith("http://"):
        options["allow_http"] = "true"


# -- S3 / MinIO ---------------------------------------------------------------------------------
def s3_options(location: BucketLocation, conn_id: str) -> StorageOptions:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_ango.hooks.bucket.s3 import S3Store

    hook = S3Hook(aws_conn_id=conn_id)
    config = hook.conn_config
    endpoint = config.get_service_endpoint_url("s3") or config.endpoint_url
    options: dict[str, str] = {"aws_conditional_put": "etag"}
    credentials = hook.get_credentials()
    secrets: tuple[str, ...] = ()
    if credentials.access_key and credentials.secret_key:
        options["aws_access_key_id"] = credentials.access_key
        options["aws_secret_access_key"] = credentials.secret_key
        secrets = (credentials.secret_key, credentials.access_key)
        if credentials.token:
            options["aws_session_token"] = credentials.token
            secrets += (credentials.token,)
    else:
        options["aws_skip_signature"] = "true"  # an anonymous connection (public bucket)
    region = config.region_name
    if endpoint and not is_aws_endpoint(endpoint):
        options["aws_endpoint"] = str(endpoint).rstrip("/")
        _http(str(endpoint), options)
        region = region or "us-east-1"  # S3-compatible stores take any region
    elif not region:
        region = S3Store(location, conn_id).region  # one GetBucketLocation
    options["aws_region"] = region
    return StorageOptions(options, secrets)


# -- GCS ----------------------------------------------------------------------------------------
def _gcp_field(extras: Mapping[str, Any], name: str) -> Any:
    value = extras.get(name)
    return extras.get(_GCP_PREFIX + name) if value in (None, "") else value


def gcs_options(location: BucketLocation, conn_id: str) -> StorageOptions:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    hook = GCSHook(gcp_conn_id=conn_id)
    extras = hook.extras
    for unsupported in ("impersonation_chain", "credential_config_file", "key_secret_name"):
        if _gcp_field(extras, unsupported):
            raise AngoExportConfigError(
                f"connection {conn_id!r} authenticates with {unsupported}, which delta-rs cannot use; "
                "give the Delta layout a connection with key_path or keyfile_dict (a service-account "
                "key), or none of them to use the worker's Application Default Credentials"
            )
    options: dict[str, str] = {}
    secrets: tuple[str, ...] = ()
    key_path = _gcp_field(extras, "key_path")
    keyfile = _gcp_field(extras, "keyfile_dict")
    if key_path:
        options["google_service_account"] = str(key_path)
    elif keyfile:
        text = keyfile if isinstance(keyfile, str) else json.dumps(keyfile)
        options["google_service_account_key"] = text
        private_key = json.loads(text).get("private_key", "")
        secrets = (text, private_key) if private_key else (text,)
    elif str(_gcp_field(extras, "is_anonymous")).lower() == "true":
        options["google_skip_signature"] = "true"
    endpoint = str(hook.get_conn().api_endpoint or "").rstrip("/")
    if endpoint and endpoint not in PUBLIC_GCS:
        options["google_base_url"] = endpoint
        _http(endpoint, options)
    return StorageOptions(options, secrets)


# -- Azure Blob ---------------------------------------------------------------------------------
def azure_options(location: BucketLocation, conn_id: str) -> StorageOptions:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    client = WasbHook(wasb_conn_id=conn_id).blob_service_client
    account = str(getattr(client, "account_name", "") or "").lower()
    if location.account and account and location.account != account:
        raise AngoExportConfigError(
            f"the destination names storage account {location.account!r}, but connection {conn_id!r} is "
            f"for account {account!r}: pass a conn_id for {location.account!r}, or fix the account in the URI"
        )
    account = account or (location.account or "")
    if not account:
        raise AngoExportConfigError(
            f"connection {conn_id!r} does not say which storage account it is for; give it an account "
            "URL or name, or name the account in the destination (wasb://<container>@<account>/...)"
        )
    options = {"azure_storage_account_name": account}
    parts = urlsplit(str(client.url))
    host = (parts.hostname or "").lower()
    if not host.endswith(".blob.core.windows.net"):
        endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        options["azure_storage_endpoint"] = endpoint
        _http(endpoint, options)
    secret = _azure_credential(client.credential, parts.query, options)
    return StorageOptions(options, (secret,) if secret else ())


def _azure_credential(credential: Any, url_query: str, options: dict[str, str]) -> str | None:
    """Put the client's credential into ``options``; returns the secret it holds."""
    account_key = getattr(credential, "account_key", None)
    if account_key:
        options["azure_storage_account_key"] = str(account_key)
        return str(account_key)
    signature = getattr(credential, "signature", None) or url_query
    if signature:
        options["azure_storage_sas_key"] = str(signature).lstrip("?")
        return options["azure_storage_sas_key"]
    if credential is not None and hasattr(credential, "get_token"):
        token = str(credential.get_token(AZURE_STORAGE_SCOPE).token)
        options["azure_storage_token"] = token  # short-lived: good for the run that asked for it
        return token
    options["azure_skip_signature"] = "true"  # a public container
    return None


def storage_options(location: BucketLocation, conn_id: str | None = None) -> StorageOptions:
    """delta-rs options for the bucket of ``location`` through ``conn_id`` (the store's default one)."""
    conn = conn_id or DEFAULT_CONN_IDS[location.kind]
    builders = {"s3": s3_options, "gcs": gcs_options, "azure": azure_options}
    options = builders[location.kind](location, conn)
    _mask(options.secrets)
    return options


__all__ = ["StorageOptions", "azure_options", "gcs_options", "s3_options", "storage_options"]
