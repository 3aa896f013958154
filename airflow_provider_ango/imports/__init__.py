"""The import pipeline: bucket files -> a validated manifest -> Ango assets (and pre-labels), exactly once.

Pure logic, no I/O of their own: ``window`` (which files a run takes), ``rules`` (externalId,
batches, contextData, asset types), ``scope`` (the per-source, per-day scope batches every item
joins), ``media`` (image sizes from a header, video sidecars), ``builder`` (bucket objects ->
import items, given a reader), ``fingerprints`` (8-byte ids), ``presence`` (scanning listings and
look-ups for wanted externalIds), ``settle`` (ambiguous writes set aside until Ango has applied
them), ``watch`` (what the imported sensor asks at each check, as steps a driver answers).

I/O through the hooks they are handed: ``manifest`` (NDJSON shards written through temporary
keys, then published), ``sources`` (manifests and label files read by object URI),
``existence`` (which externalIds exist: the scope batches or the whole project),
``assets`` (the exactly-once import of a manifest) and ``labels`` (pre-labels, checked whole
against the project before the first POST).
"""
