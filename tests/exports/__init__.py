"""Tests of the export side: trigger/land operators, stage sensor, and their pure parts."""
