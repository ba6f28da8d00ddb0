"""Index the embedded server's threads and runs by thread (``langgraph dev`` only).

The in-memory runtime keeps every thread and run it holds in two Python lists
(``GLOBAL_STORE["threads"]`` and ``["runs"]``) and finds what an operation needs
by scanning them: ``next(t for t in threads if t["thread_id"] == thread_id)``,
``[r for r in runs if r["thread_id"] == thread_id and ...]``. One approval cycle
makes about twenty such scans, so every decided request held inside the archive
window makes every later cycle slower: 32 ms of server CPU per cycle with 250
held, 49 ms with 1,600 (``docs/performance.md``, "Held inside the window").

:func:`install` does two things, for the in-memory runtime alone:

- the two lists become :class:`ThreadList` and :class:`RunList`: lists that keep a
  dictionary by thread id up to date as they change (appends, a record replaced
  or popped; any other change rebuilds it on the next lookup). The store swaps in
  a fresh one whenever the runtime assigns a new list (``Threads.delete`` does);
  saved to disk they are plain lists;
- the operations that work on one thread, ``Threads._get_with_filters`` (every
  thread read), ``Threads.put`` and ``Threads.patch``, ``Threads.set_joint_status``
  (a run ends), ``Runs.get`` and ``Runs.put``, get a connection whose store shows
  them that thread and its runs only (:class:`Scoped`), taken from the index when
  they ask. Their code is the stock code, unchanged: a scan of one thread's
  records finds what a scan of all of them found. What they append goes to the
  real lists, and the record ``Threads.patch`` replaces is replaced there;
- the queue's scan (``Runs.next``, through the run-queue wake) sees the pending
  runs, their threads and those threads' runs (:class:`QueueView`), computed
  again only when either list has changed.

Scans that need every record stay as they are: searches, counts, deletes. A
rollback (``set_joint_status`` deleting its run) is left to the stock code,
which deletes by position in the whole list.

The patch is the fence's ``runtime-index`` entry (``graphs/common/fence.py``),
written against the runtime version in the fence's table; on any other version
the fence reports it degraded and the stock scans stay. ``HITL_RUNTIME_INDEX=0``
keeps them too (to measure or debug).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from graphs.common import fence
from server import inmem_patch

logger = logging.getLogger(__name__)

MARK = "__hitl_index__"

Record = dict[str, Any]


def _staling(name: str) -> Any:
    """``list.<name>``, then mark the index stale (changes the runtime does not make)."""
    method = getattr(list, name)

    @functools.wraps(method)
    def changed(self: _Indexed, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        self._stale()
        return result

    return changed


class _Indexed(list[Record]):
    """A list of runtime records that keeps them grouped by ``thread_id``.

    Appends, ``lst[i] = record``, ``lst.pop(i)`` and ``del lst[i]`` update the
    index; any other change marks it stale, and the next lookup rebuilds it.
    """

    __slots__ = ("_by_thread", "version")

    def __init__(self, items: Iterable[Record] = ()) -> None:
        super().__init__(items)
        self._by_thread: dict[Any, list[Record]] | None = None
        self.version = 0
        """Counts the changes of the list's records (one added, dropped or replaced)."""

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (list, (list(self),))  # saved as the plain list the runtime loads

    def of(self, thread_id: Any) -> list[Record]:
        """The records of ``thread_id``, in list order (a new list)."""
        return list(self._groups().get(thread_id, ()))

    def of_each(self, thread_ids: Iterable[Any]) -> list[Record]:
        """The records of each of ``thread_ids`` in turn (a new list)."""
        groups = self._groups()
        return [record for thread_id in thread_ids for record in groups.get(thread_id, ())]

    def _groups(self) -> dict[Any, list[Record]]:
        if self._by_thread is None:
            self._by_thread = {}
            for record in self:
                self._by_thread.setdefault(record["thread_id"], []).append(record)
        return self._by_thread

    def _add(self, record: Record) -> None:
        self.version += 1
        if self._by_thread is not None:
            self._by_thread.setdefault(record["thread_id"], []).append(record)

    def _drop(self, record: Record) -> None:
        self.version += 1
        if self._by_thread is not None:
            kept = [r for r in self._by_thread.get(record["thread_id"], ()) if r is not record]
            if kept:
                self._by_thread[record["thread_id"]] = kept
            else:
                self._by_thread.pop(record["thread_id"], None)

    def _stale(self) -> None:
        self.version += 1
        self._by_thread = None

    def append(self, record: Record) -> None:
        super().append(record)
        self._add(record)

    def __setitem__(self, index: Any, value: Any) -> None:
        self.version += 1
        if isinstance(index, int) and self._by_thread is not None:
            old = self[index]
            super().__setitem__(index, value)
            if old["thread_id"] == value["thread_id"]:
                group = self._by_thread[old["thread_id"]]
                group[:] = [value if r is old else r for r in group]
            else:
                self._stale()
            return
        super().__setitem__(index, value)
        self._stale()

    def __delitem__(self, index: Any) -> None:
        if isinstance(index, int):
            record = self[index]
            super().__delitem__(index)
            self._drop(record)
            return
        super().__delitem__(index)
        self._stale()

    def pop(self, index: Any = -1) -> Record:
        record = super().pop(index)
        self._drop(record)
        return record

    insert = _staling("insert")
    extend = _staling("extend")
    remove = _staling("remove")
    clear = _staling("clear")
    sort = _staling("sort")
    reverse = _staling("reverse")
    __iadd__ = _staling("__iadd__")
    __imul__ = _staling("__imul__")


class ThreadList(_Indexed):
    """``GLOBAL_STORE["threads"]``, indexed by thread id, with each thread's position.

    ``Threads.patch`` replaces a thread's record by its position in the list: a
    scoped patch (:class:`_ThreadSlice`) finds that position here.
    """

    __slots__ = ("_at",)

    def __init__(self, items: Iterable[Record] = ()) -> None:
        super().__init__(items)
        self._at: dict[Any, int] | None = None

    def replace(self, old: Record, new: Record) -> None:
        """Put ``new`` where the record ``old`` is.

        Raises:
            LookupError: ``old`` is no longer in the list.
        """
        if self._at is None:
            self._at = {}
            for position, thread in enumerate(self):
                self._at.setdefault(thread["thread_id"], position)
        position = self._at.get(old["thread_id"], -1)
        if not (0 <= position < len(self) and self[position] is old):
            # Not where the index says (a second record with its id?): look for it.
            self._at = None
            position = next((i for i, thread in enumerate(self) if thread is old), -1)
        if position < 0:
            raise LookupError(f"thread {old['thread_id']} is no longer in the runtime")
        self[position] = new

    def _add(self, record: Record) -> None:
        super()._add(record)
        if self._at is not None:
            self._at.setdefault(record["thread_id"], len(self) - 1)

    def _drop(self, record: Record) -> None:
        super()._drop(record)
        self._at = None  # the records after it moved

    def _stale(self) -> None:
        super()._stale()
        self._at = None


class RunList(_Indexed):
    """``GLOBAL_STORE["runs"]``, indexed by thread id, and knowing which runs may be pending.

    A run is put pending, or set back to pending for a retry (``Runs.set_status``,
    which the patch notes); every other change of status only takes runs out of
    ``pending``. So the runs put or set pending since the last look, less those no
    longer pending, are every pending run: :meth:`pending` answers without a scan.
    """

    __slots__ = ("_waiting",)

    def __init__(self, items: Iterable[Record] = ()) -> None:
        super().__init__(items)
        self._waiting: dict[int, Record] | None = None

    def pending(self) -> list[Record]:
        """Every run in the list whose status is ``pending``, in list order."""
        if self._waiting is None:
            self._waiting = {id(r): r for r in self if r.get("status") == "pending"}
        else:
            for key, run in list(self._waiting.items()):
                if run.get("status") != "pending":
                    del self._waiting[key]
        return list(self._waiting.values())

    def note_pending(self) -> None:
        """A run was set back to pending in place: look again on the next question."""
        self.version += 1
        self._waiting = None

    def _add(self, record: Record) -> None:
        super()._add(record)
        if self._waiting is not None and record.get("status") == "pending":
            self._waiting[id(record)] = record

    def _drop(self, record: Record) -> None:
        super()._drop(record)
        if self._waiting is not None:
            self._waiting.pop(id(record), None)

    def _stale(self) -> None:
        super()._stale()
        self._waiting = None

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._waiting = None


INDEXED: dict[str, type[_Indexed]] = {"threads": ThreadList, "runs": RunList}


def _is_indexed(store: Any) -> bool:
    """Whether ``store`` holds both lists indexed (a store the runtime cleared may not)."""
    return store is not None and all(
        isinstance(dict.get(store, key), kind) for key, kind in INDEXED.items()
    )


def _indexed(key: str, value: Any) -> Any:
    kind = INDEXED.get(key)
    if kind is None or isinstance(value, kind) or not isinstance(value, list):
        return value
    return kind(value)


class _Slice(list[Record]):
    """One thread's records, as a scoped operation sees them: appends reach the real list."""

    __slots__ = ("_whole",)

    def __init__(self, whole: _Indexed, items: Iterable[Record]) -> None:
        super().__init__(items)
        self._whole = whole

    def append(self, record: Record) -> None:
        self._whole.append(record)
        super().append(record)

    def _refused(self, *args: Any, **kwargs: Any) -> Any:
        # Only appends are known to be safe on a slice: a scoped operation that
        # changes the list any other way must fail loudly, not lose the change.
        raise RuntimeError("a scoped runtime operation changed a store list other than by append")

    insert = extend = remove = pop = clear = sort = reverse = _refused
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refused


class _ThreadSlice(_Slice):
    """One thread, as a scoped operation sees it; it may also replace it by position.

    ``Threads.patch`` finds the thread's position, awaits the auth handler, then
    reads the record at that position again and replaces it with a patched copy.
    Read by position, the slice answers the record the runtime holds now (a
    concurrent patch may have replaced it meanwhile); written, it replaces that
    record in the whole list.
    """

    __slots__ = ()

    def __getitem__(self, index: Any) -> Any:
        record = super().__getitem__(index)
        if isinstance(index, int):
            current = self._whole._groups().get(record["thread_id"])
            return current[0] if current else record
        return record

    def __setitem__(self, index: Any, value: Any) -> None:
        whole = self._whole
        if not isinstance(index, int) or not isinstance(whole, ThreadList):
            self._refused()
            return
        whole.replace(self[index], value)
        list.__setitem__(self, index, value)  # the slice's own refuses


class Scoped(Mapping[str, Any]):
    """A store that shows one thread and its runs; every other key is the real store's."""

    def __init__(self, store: Mapping[str, Any], thread_id: Any) -> None:
        self._store = store
        self._thread_id = thread_id

    def __getitem__(self, key: str) -> Any:
        value = self._store[key]
        if isinstance(value, ThreadList):
            return _ThreadSlice(value, value._groups().get(self._thread_id, ()))
        if isinstance(value, _Indexed):
            return _Slice(value, value._groups().get(self._thread_id, ()))
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)


class ScopedConnection:
    """The runtime connection an operation on one thread gets: its store is :class:`Scoped`."""

    def __init__(self, conn: Any, thread_id: Any) -> None:
        self.whole = conn
        self.store = Scoped(conn.store, thread_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.whole, name)


def _thread_key(thread_id: Any) -> UUID:
    """The key the runtime's records hold a thread id under (ValueError: not a UUID)."""
    return thread_id if isinstance(thread_id, UUID) else UUID(str(thread_id))


def scoped(conn: Any, thread_id: Any) -> Any:
    """``conn`` seen from ``thread_id`` (``conn`` itself when the store is not indexed)."""
    whole = conn.whole if isinstance(conn, ScopedConnection) else conn
    if thread_id is None or not _is_indexed(getattr(whole, "store", None)):
        return whole
    try:
        key = _thread_key(thread_id)
    except ValueError:
        return whole  # the stock code says what is wrong with it
    return ScopedConnection(whole, key)


# -- the patch ----------------------------------------------------------------------------


def _on_thread(choose: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap an async ``(conn, ...)`` operation: ``choose(*args, **kwargs)`` names its thread."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def wrapper(conn: Any, *args: Any, **kwargs: Any) -> Any:
            return await method(scoped(conn, choose(*args, **kwargs)), *args, **kwargs)

        setattr(wrapper, MARK, True)
        return wrapper

    return wrap


def _thread_arg(thread_id: Any, *args: Any, **kwargs: Any) -> Any:
    return thread_id


def _joint_status_thread(thread_id: Any, run_id: Any, run_status: Any, *a: Any, **k: Any) -> Any:
    return None if run_status == "rollback" else thread_id


def _thread_kwarg(*args: Any, thread_id: Any = None, **kwargs: Any) -> Any:
    return thread_id


def _noting_pending(status_of: Callable[..., Any]) -> Callable[[Callable[..., Any]], Any]:
    """Wrap an async ``(conn, ...)`` operation that may set a run pending in place."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def wrapper(conn: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(conn, *args, **kwargs)
            finally:
                if status_of(*args, **kwargs) == "pending":
                    runs = getattr(conn, "store", {}).get("runs")
                    if isinstance(runs, RunList):
                        runs.note_pending()

        setattr(wrapper, MARK, True)
        return wrapper

    return wrap


def _run_status(run_id: Any, status: Any, *args: Any, **kwargs: Any) -> Any:
    return status


def _joint_run_status(thread_id: Any, run_id: Any, run_status: Any, *a: Any, **k: Any) -> Any:
    return run_status


SCOPED: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("Threads", "_get_with_filters", _thread_arg),
    ("Threads", "put", _thread_arg),
    ("Threads", "patch", _thread_arg),
    ("Threads", "set_joint_status", _joint_status_thread),
    ("Runs", "get", _thread_kwarg),
    ("Runs", "put", _thread_kwarg),
)
"""The operations on one thread that run scoped: (class, method, what names the thread)."""

NOTING: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("Runs", "set_status", _run_status),
    ("Threads", "set_joint_status", _joint_run_status),
)
"""The operations that may set a run back to pending: (class, method, the status they set)."""

_originals: inmem_patch.Originals = {}
_store_class: dict[int, type] = {}
_STORE: Any = None
"""The store :func:`install` indexed (None: not installed)."""


def _indexing_store(cls: type) -> type:
    """A subclass of the store's class whose assignments index the two lists."""

    class IndexingStore(cls):  # type: ignore[misc]
        def __setitem__(self, key: str, value: Any) -> None:
            super().__setitem__(key, _indexed(key, value))

        def __getitem__(self, key: str) -> Any:
            value = super().__getitem__(key)
            view = _QUEUE_VIEW.get()
            if view is not None and isinstance(value, _Indexed):
                return view.slice(self, value)
            return value

    IndexingStore.__name__ = f"Indexing{cls.__name__}"
    return IndexingStore


def patch_store(store: Any) -> None:
    """Index ``store``'s thread and run lists, now and whenever the runtime assigns new ones."""
    if id(store) not in _store_class:
        _store_class[id(store)] = type(store)
        store.__class__ = _indexing_store(type(store))
    for key in INDEXED:
        if isinstance(store.get(key), list):
            store[key] = store[key]


def unpatch_store(store: Any) -> None:
    """Give ``store`` back its class and plain lists (for tests)."""
    original = _store_class.pop(id(store), None)
    if original is not None:
        store.__class__ = original
    for key in INDEXED:
        if isinstance(store.get(key), _Indexed):
            dict.__setitem__(store, key, list(store[key]))


def patch_classes(runs: type, threads: type) -> None:
    """Scope the operations in :data:`SCOPED` on a ``Runs`` and a ``Threads`` class."""
    classes = {"Runs": runs, "Threads": threads}
    if any(inmem_patch.marked(classes[owner], name, MARK) for owner, name, _ in SCOPED):
        return
    for patches, wrapping in ((SCOPED, _on_thread), (NOTING, _noting_pending)):
        for owner, name, choose in patches:
            cls = classes[owner]
            original = inmem_patch.function(cls.__dict__[name])
            inmem_patch.replace(_originals, cls, name, wrapping(choose)(original))


def uninstall() -> None:
    """Restore the stock operations and the store (for tests)."""
    global _STORE  # noqa: PLW0603
    inmem_patch.restore(_originals)
    unpatch_store(fence.inmem_database().GLOBAL_STORE)
    QUEUE.clear()
    _STORE = None


def install() -> bool:
    """Index the in-memory runtime's store and scope its one-thread operations.

    Does nothing, with a log line, unless the fence finds its ``runtime-index``
    entry ok; does nothing when ``HITL_RUNTIME_INDEX=0``, nor when runs run on
    loops of their own threads (``BG_JOB_ISOLATED_LOOPS``: the index has no lock).
    Call it once the runtime has loaded its store, before anything of the project
    writes through the runtime (the app's lifespan). Safe to call more than once.
    """
    if active():
        return True
    if not inmem_patch.wanted(
        logger, "runtime index", "HITL_RUNTIME_INDEX", "runtime-index", "keeping the stock scans"
    ):
        return False
    if os.environ.get("BG_JOB_ISOLATED_LOOPS", "").strip().lower() in ("true", "1"):
        # Runs then call the runtime from other threads: the index has no lock.
        logger.info("runtime index not installed (BG_JOB_ISOLATED_LOOPS): keeping the stock scans")
        return False
    global _STORE  # noqa: PLW0603 - one runtime store per process
    ops = fence.inmem_ops()
    _STORE = fence.inmem_database().GLOBAL_STORE
    patch_store(_STORE)
    patch_classes(ops.Runs, ops.Threads)
    logger.info(
        "runtime index installed (langgraph-runtime-inmem %s): one-thread operations "
        "read their thread's records only; HITL_RUNTIME_INDEX=0 keeps the stock scans",
        fence.SUPPORTED["langgraph-runtime-inmem"],
    )
    return True


def active() -> bool:
    """Whether the in-memory runtime's one-thread operations run scoped."""
    return inmem_patch.active("put", MARK)


def merge_metadata(thread_id: Any, metadata: Mapping[str, Any]) -> bool | None:
    """Merge ``metadata`` into a thread's record as the server's ``Threads.patch`` does.

    The stock ``Threads.patch`` deep-copies the whole record (its values, its
    pauses) to change its metadata: 1-5 % of the served CPU under load, for the
    pause metadata each cycle writes twice. This makes the same new record (the
    metadata merged, ``updated_at`` now, ``state_updated_at`` kept) as a shallow
    copy and puts it where the old one was: a reader holding the old record still
    sees it unchanged, and nothing of the runtime changes a record's values or
    pauses in place. No auth handler runs (the server's own write).

    Returns:
        None when the index is not installed (use ``Threads.patch``); otherwise
        whether the thread was found.
    """
    threads = dict.get(_STORE, "threads") if _STORE is not None else None
    if not isinstance(threads, ThreadList):
        return None
    found = threads.of(_thread_key(thread_id))
    if not found:
        return False
    old = found[0]
    new = {**old, "metadata": {**old["metadata"], **metadata}, "updated_at": datetime.now(UTC)}
    new.setdefault("state_updated_at", old.get("updated_at"))
    threads.replace(old, new)
    return True


# -- the queue's view -----------------------------------------------------------------------


class QueueView:
    """The queue's view of the store (``Runs.next``): the records of the pending runs' threads.

    ``Runs.next`` reads every run to find the pending ones, then, for each it may
    start, its thread and that thread's runs (is one running?): each read of a list
    gets the records of the threads that have a pending run. A slice is computed
    when read after either list changed (:attr:`_Indexed.version`: a record added,
    dropped or replaced, a run set back to pending) and kept otherwise, from one
    scan to the next. A run that stops being pending in place (a scan starts it, it
    ends) changes no list: the slice then holds a thread more than it needs, and
    since it holds the records themselves, every status a scan reads is the
    current one. The queue scans each time a worker is free, and each scan read the
    lists at least three times, each read building a slice of every pending thread.
    """

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[type, tuple[_Indexed, RunList, int, int, list[Record]]] = {}

    def clear(self) -> None:
        """Forget the slices kept (and the lists they came from)."""
        self._kept.clear()

    def slice(self, store: dict[str, Any], whole: _Indexed) -> list[Record]:
        """The records of ``whole`` (one of ``store``'s lists) whose thread has a pending run."""
        runs = dict.get(store, "runs")  # the store's own, not a view
        if not isinstance(runs, RunList):
            return whole
        kept = self._kept.get(type(whole))
        if (
            kept is not None
            and kept[0] is whole
            and kept[1] is runs
            and kept[2:4] == (whole.version, runs.version)
        ):
            return kept[4]
        records = whole.of_each(dict.fromkeys(run["thread_id"] for run in runs.pending()))
        self._kept[type(whole)] = (whole, runs, whole.version, runs.version, records)
        return records


QUEUE = QueueView()
"""The queue's view, kept from one scan to the next."""

_QUEUE_VIEW: ContextVar[QueueView | None] = ContextVar("hitl_queue_view", default=None)
"""The queue's view the runtime code running in this context sees (None: the whole store)."""


def queue_indexed() -> bool:
    """Whether the queue's scan can read the index (installed, both lists indexed)."""
    return _is_indexed(_STORE)


def nothing_pending() -> bool:
    """Whether the index knows of no pending run (call only when :func:`queue_indexed`)."""
    runs = dict.get(_STORE, "runs") if _STORE is not None else None
    return isinstance(runs, RunList) and not runs.pending()


@contextlib.contextmanager
def queue_view(view: QueueView | None) -> Iterator[None]:
    """Let the runtime code run inside see the queue's ``view`` (None: the whole store)."""
    token = _QUEUE_VIEW.set(view)
    try:
        yield
    finally:
        _QUEUE_VIEW.reset(token)
