"""Ango Hub operators: ``imports`` (build a manifest, import assets, import pre-labels) and ``exports``
(trigger an export and stage it, land it in the lake). Thin wrappers over the pipelines."""
