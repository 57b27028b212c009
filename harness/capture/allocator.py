"""Virtual addresses for fake-mode traces, assigned the way a caching GPU allocator would.

Rules (also in traces/README.md): every request is rounded up to a multiple of 512 B (an empty
storage still takes one 512 B block); a request takes the smallest free block that fits (best fit,
lowest address among equals) and splits off the remainder as a new free block; when no free block fits
the heap grows at its top. A storage's block is freed when the storage dies; a freed block merges with
free neighbours. Nothing is returned to the system, so ``heap_top`` is the reserved footprint."""

from __future__ import annotations

import bisect

ROUND = 512


def round_size(nbytes: int) -> int:
    return max(ROUND, (nbytes + ROUND - 1) // ROUND * ROUND)


class AllocatorModel:
    def __init__(self, base: int = 0) -> None:
        self.base = base
        self.heap_top = base
        self._free_by_size: list[tuple[int, int]] = []  # sorted (size, addr)
        self._free_by_addr: dict[int, int] = {}  # addr -> size
        self._free_end: dict[int, int] = {}  # end addr -> start addr
        self._used: dict[int, int] = {}  # addr -> size
        self.live_bytes = 0
        self.peak_live_bytes = 0

    def _remove_free(self, addr: int, size: int) -> None:
        i = bisect.bisect_left(self._free_by_size, (size, addr))
        del self._free_by_size[i]
        del self._free_by_addr[addr]
        del self._free_end[addr + size]

    def _add_free(self, addr: int, size: int) -> None:
        bisect.insort(self._free_by_size, (size, addr))
        self._free_by_addr[addr] = size
        self._free_end[addr + size] = addr

    def malloc(self, nbytes: int) -> int:
        size = round_size(nbytes)
        i = bisect.bisect_left(self._free_by_size, (size, -1))
        if i < len(self._free_by_size):
            bsize, addr = self._free_by_size[i]
            self._remove_free(addr, bsize)
            if bsize > size:
                self._add_free(addr + size, bsize - size)
        else:
            addr = self.heap_top
            self.heap_top += size
        self._used[addr] = size
        self.live_bytes += size
        self.peak_live_bytes = max(self.peak_live_bytes, self.live_bytes)
        return addr

    def free(self, addr: int) -> None:
        size = self._used.pop(addr)
        self.live_bytes -= size
        start, end = addr, addr + size
        nxt = self._free_by_addr.get(end)
        if nxt is not None:
            self._remove_free(end, nxt)
            end += nxt
        prev = self._free_end.get(start)
        if prev is not None:
            self._remove_free(prev, start - prev)
            start = prev
        self._add_free(start, end - start)
