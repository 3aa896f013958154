"""The pure parts of importing bucket files into Ango Hub, used by the import operators.

One module per job: ``window`` (which files a run takes), ``rules`` (externalId, batches,
contextData, asset types), ``media`` (image sizes from a ranged read, video sidecars),
``manifest`` (sharded NDJSON written through a temp key, then published), ``fingerprints``
and ``presence`` (which externalIds already exist in a project), ``labels`` (pre-label
files, checked against the category schema) and ``progress`` (done/total, rate, ETA).
"""
