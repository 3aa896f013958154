"""The export side's pure logic, kept out of the operators so each part is small and unit-tested.

- :mod:`.window` - incremental ``updatedAt`` windows from a run's data interval;
- :mod:`.sealing` - the signed export URL sealed with Airflow's Fernet key between triggerer and worker;
- :mod:`.staging` - stream the export zip into the staging bucket, hashed and checked;
- :mod:`.records` - records streamed out of a zip (ijson for JSON arrays, line by line for NDJSON);
- :mod:`.safe_keys` - externalId -> object name with no traversal and no collisions;
- :mod:`.layouts` - raw / ndjson / json / split part writers;
- :mod:`.landing` - the atomic landing protocol (temporary prefix, publish, manifest, ``_SUCCESS``).
"""
