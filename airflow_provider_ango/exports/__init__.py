"""The export side's pure logic, kept out of the operators so each part is small and unit-tested.

- :mod:`.window` - incremental ``updatedAt`` windows from a run's data interval (and why ``$gte``/``$lt``);
- :mod:`.sealing` - the signed export URL sealed with Airflow's Fernet key between triggerer and worker;
- :mod:`.staging` - stream the export zip into the staging bucket, hashed and checked (:mod:`.zipcheck`);
- :mod:`.records` - records streamed out of a zip, each loaded by orjson (JSON arrays cut element by element);
- :mod:`.safe_keys` - externalId -> object name with no traversal and no collisions;
- :mod:`.layouts` - raw / ndjson / json / split writers; :mod:`.registry` - the files written, on disk;
- :mod:`.landing` - the atomic landing protocol (temporary prefix, publish, manifest, ``_SUCCESS``);
- :mod:`.locations`, :mod:`.progress`, :mod:`.errors` - bucket URIs, progress lines, typed errors.
"""
