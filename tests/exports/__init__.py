"""Tests of the export pipeline's modules (exports/); the operators' runs are in tests/operators/."""
