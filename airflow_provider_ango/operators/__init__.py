"""Ango Hub operators, thin wrappers over the pipelines: ``manifests`` (build a manifest), ``imports``
(import assets; the build and pre-label operators importable from it too), ``labels`` (import
pre-labels), ``exports`` (trigger an export and stage it; the land operator importable from it too),
``landing`` (land it in the lake), and ``base`` (what they share: lineage, hooks, links)."""
