"""A process-wide, size-bounded LRU cache of style targets (Gram matrices)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Hashable

import torch

GramSet = dict[str, torch.Tensor]


def fingerprint(image: torch.Tensor) -> str:
    """Content hash of an image tensor: equal pixels give equal keys, whatever object holds them."""
    data = image.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest() + str(tuple(image.shape))


class GramCache:
    """LRU of Gram sets keyed by (style pixels, layers, weights source, pooling, device, dtype).

    Bounded by bytes so many users with big style images cannot grow memory without limit.
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, GramSet] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _size(grams: GramSet) -> int:
        return sum(g.numel() * g.element_size() for g in grams.values())

    def get_or_compute(self, key: Hashable, compute: Callable[[], GramSet]) -> GramSet:
        """Cached value for ``key``, computing (outside the lock) and storing it on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        grams = compute()
        size = self._size(grams)
        with self._lock:
            if key not in self._items and size <= self.max_bytes:
                self._items[key] = grams
                self._bytes += size
                while self._bytes > self.max_bytes:
                    _, old = self._items.popitem(last=False)
                    self._bytes -= self._size(old)
        return grams

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


GRAMS = GramCache()
