"""The import pipeline: bucket files -> a validated manifest -> Ango assets (and pre-labels), exactly once.

Pure logic, no I/O of their own: ``window`` (which files a run takes), ``rules`` (externalId,
batches, contextData, asset types), ``media`` (image sizes from a header, video sidecars),
``builder`` (bucket objects -> import items, given a reader), ``fingerprints`` (8-byte ids).

I/O through the hooks they are handed: ``manifest`` (NDJSON shards written through temporary
keys, then published), ``sources`` (manifests and label files read by object URI),
``presence`` (which externalIds a project already has: it pages through a listing),
``assets`` (the exactly-once import of a manifest) and ``labels`` (pre-labels, checked whole
against the project before the first POST).
"""
