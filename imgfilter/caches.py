"""The library's bounded caches, sized by the embedding service.

Every cache holds only what is independent of the request's text: a result
built from one caller's text is never handed to another caller (each caller
gets its own spans, warnings and errors).  ``configure_caches`` sets the
number of entries of each; ``cache_sizes`` reports them.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import Any, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_REGISTRY: dict[str, Cached[Any, Any] | LRU[Any, Any]] = {}


class Cached(Generic[P, R]):
    """A function behind a bounded LRU cache (``functools.lru_cache``) whose
    size can be changed.  With ``rebind``, a cached result (a dataclass) gets
    the caller's own first argument as that field, so a result cached for an
    equal argument never carries another caller's object."""

    def __init__(self, fn: Callable[P, R], maxsize: int, rebind: str | None = None) -> None:
        self.fn = fn
        self.rebind = rebind
        self._first = next(iter(inspect.signature(fn).parameters))  # the argument rebound
        self.maxsize = maxsize
        self._call = lru_cache(maxsize=maxsize)(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", "cached")
        self.__wrapped__ = fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self._call(*args, **kwargs)  # type: ignore[arg-type]
        if self.rebind is not None:
            mine = args[0] if args else kwargs[self._first]
            if getattr(result, self.rebind) is not mine:
                result = dataclasses.replace(result, **{self.rebind: mine})  # type: ignore[type-var]
        return result

    def resize(self, maxsize: int) -> None:
        """A new, empty cache of ``maxsize`` entries (0: no caching)."""
        self.maxsize = maxsize
        self._call = lru_cache(maxsize=maxsize)(self.fn)

    def clear(self) -> None:
        self._call.cache_clear()

    def __len__(self) -> int:
        return self._call.cache_info().currsize


class LRU(Generic[K, V]):
    """A bounded, thread-safe mapping that forgets the least recently used entry."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.pop(key, None)
            if value is not None:
                self._data[key] = value  # most recently used: last
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.maxsize:
                del self._data[next(iter(self._data))]

    def resize(self, maxsize: int) -> None:
        with self._lock:
            self.maxsize = maxsize
            self._data.clear()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def cached(name: str, maxsize: int, *, rebind: str | None = None) -> Callable[[Callable[P, R]], Cached[P, R]]:
    """Decorator: a registered, resizable LRU cache named ``name``."""

    def wrap(fn: Callable[P, R]) -> Cached[P, R]:
        c = Cached(fn, maxsize, rebind)
        _REGISTRY[name] = c
        return c

    return wrap


def lru(name: str, maxsize: int) -> LRU[Any, Any]:
    """A registered, resizable LRU mapping named ``name``."""
    c: LRU[Any, Any] = LRU(maxsize)
    _REGISTRY[name] = c
    return c


def _register_all() -> None:
    from imgfilter.front import check  # noqa: F401  (importing them registers their caches)
    from imgfilter.targets import memory, sql  # noqa: F401


def configure_caches(**sizes: int) -> None:
    """Set the number of entries of the named caches (and empty them), e.g.
    ``configure_caches(check=512, page_templates=512, compile_query=256, compile_sql=256)``;
    0 turns a cache off.  ``cache_sizes()`` lists the names."""
    _register_all()
    unknown = sorted(set(sizes) - set(_REGISTRY))
    if unknown:
        raise ValueError(f"no cache named {', '.join(unknown)}; the caches are {', '.join(sorted(_REGISTRY))}")
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"cache {name}: the size must be an integer >= 0, not {size!r}")
    for name, size in sizes.items():
        _REGISTRY[name].resize(size)


def cache_sizes() -> dict[str, tuple[int, int]]:
    """Each cache's ``(entries held, maximum)``."""
    _register_all()
    return {name: (len(c), c.maxsize) for name, c in sorted(_REGISTRY.items())}
