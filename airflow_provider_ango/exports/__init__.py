"""The export pipeline: an Ango export zip -> staging -> files in the lake, complete or not at all.

Pure logic, no I/O of their own: ``window`` (incremental ``updatedAt`` windows and why
``$gte``/``$lt``), ``sealing`` (the signed URL sealed with the Fernet key between triggerer and
worker), ``zipcheck`` (a zip's tail checked while it streams), ``records`` (records out of a
local zip: JSON arrays element by element, NDJSON line by line), ``safe_keys`` (externalId -> object
name without traversal or collisions), ``registry`` (the files a landing wrote, kept on local
disk) and ``locations`` (bucket URIs as hook and key prefix).

I/O through the hooks they are handed: ``staging`` (the zip streamed from its signed URL into
the staging bucket, hashed and checked), ``layouts`` (raw / ndjson / json / split writers) and
``landing`` (the atomic landing protocol: temporary prefix, publish, manifest, ``_SUCCESS``).
"""
