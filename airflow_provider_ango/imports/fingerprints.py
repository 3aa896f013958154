"""A compact set of externalIds: 64-bit fingerprints in a sorted ``array('Q')``.

Deduplication keeps the externalIds of the *manifest* (the files of one run), not those of
the project: a project grows to millions of assets, a run's manifest stays the size of one
interval. Each id costs 8 bytes here (a Python ``set`` of the strings costs about 100
bytes per id); building adds one bucket's sort (1/256 of the ids) at a time.

A fingerprint is the first 8 bytes of BLAKE2b of the UTF-8 id. Two different ids share one
with probability about ``n * m / 2**64`` for ``n`` manifest ids against ``m`` project ids
(5e-8 for 100,000 against ten million): the cost of such a collision is one file reported
as ``skipped_existing`` instead of imported.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable


def fingerprint(external_id: str) -> int:
    digest = hashlib.blake2b(external_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


#: Fingerprints are added into 256 arrays by their top byte, so that :meth:`FingerprintSet.freeze`
#: sorts one small bucket at a time: building never needs much more than the 8 bytes per id.
_BUCKETS = 256
_SHIFT = 56


class FingerprintSet:
    """Add ids, :meth:`freeze`, then test membership (``in``) in O(log n)."""

    __slots__ = ("_buckets", "_frozen", "_values", "repeated")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._buckets: list[array[int]] | None = [array("Q") for _ in range(_BUCKETS)]
        self._values = array("Q")
        self._frozen = False
        #: After :meth:`freeze`: the fingerprints that were added more than once.
        self.repeated: set[int] = set()
        for external_id in ids:
            self.add(external_id)

    def add(self, external_id: str) -> None:
        self.add_fingerprint(fingerprint(external_id))

    def add_fingerprint(self, value: int) -> None:
        if self._buckets is None:
            raise RuntimeError("FingerprintSet is frozen; build a new one")
        self._buckets[value >> _SHIFT].append(value)

    def freeze(self) -> FingerprintSet:
        """Sort and drop repeats (noted in :attr:`repeated`); then ``in`` works."""
        buckets = self._buckets
        if buckets is None:
            return self
        unique = array("Q")
        for index in range(_BUCKETS):
            ordered = sorted(buckets[index])
            buckets[index] = array("Q")  # release the bucket before the next one is sorted
            previous = None
            for value in ordered:
                if value != previous:
                    unique.append(value)
                    previous = value
                else:
                    self.repeated.add(value)
        self._buckets = None
        self._values = unique
        self._frozen = True
        return self

    def contains_fingerprint(self, value: int) -> bool:
        if not self._frozen:
            raise RuntimeError("call freeze() before membership tests")
        index = bisect_left(self._values, value)
        return index < len(self._values) and self._values[index] == value

    def index_of(self, value: int) -> int | None:
        """The position of fingerprint ``value`` among the frozen set's (for one flag per id), or None."""
        if not self._frozen:
            raise RuntimeError("call freeze() before membership tests")
        index = bisect_left(self._values, value)
        return index if index < len(self._values) and self._values[index] == value else None

    def __contains__(self, external_id: object) -> bool:
        return isinstance(external_id, str) and self.contains_fingerprint(fingerprint(external_id))

    def __len__(self) -> int:
        """Distinct ids once frozen; every id added (repeats included) before."""
        if self._buckets is not None:
            return sum(len(bucket) for bucket in self._buckets)
        return len(self._values)

    @property
    def nbytes(self) -> int:
        if self._buckets is not None:
            return sum(bucket.itemsize * len(bucket) for bucket in self._buckets)
        return self._values.itemsize * len(self._values)


__all__ = ["FingerprintSet", "fingerprint"]
