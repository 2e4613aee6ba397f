"""Where the pipeline's fetch-extract chunks run, chosen by `[runner]` in the configuration.

`local`: the flow's own pebble pool, one chunk fetched and extracted ahead of the one being
stored. `dask`: each chunk is one Prefect task run on a Dask worker process, which fetches the
pages and extracts them in its own pebble pool (created on its first chunk, kept for the next
ones), so the per-page time limit holds there too. Storing stays in the flow's process in both
cases: DuckDB takes one writing process (docs/choices.md, "Extraction on Dask").
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from multiprocessing.util import Finalize
from typing import TYPE_CHECKING, Any

from pebble import ProcessPool

from spacewatch.config import Config, ConfigError
from spacewatch.flows.steps import extraction_pool
from spacewatch.seeds.tagging import TaggingPaths

if TYPE_CHECKING:
    from prefect import Task
    from prefect.futures import PrefectFuture

DASK_MISSING = 'the Dask runner needs the Dask extra: pip install "spacewatch[dask]"'
DAEMONIC_WORKER = (
    "this Dask worker is a daemonic process and cannot start its extraction processes: "
    "start the workers with DASK_DISTRIBUTED__WORKER__DAEMON=False"
)


def process_name() -> str:
    """host:pid of this process, so a run can say where its chunks were extracted."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ChunkRunner:
    """Submits fetch-extract tasks; the pipeline keeps `ahead` of them in flight."""

    def __init__(
        self,
        submit: Callable[[list, dict, frozenset[int]], PrefectFuture],
        ahead: Callable[[], int],
    ):
        self._submit = submit
        self._ahead = ahead

    def submit(self, chunk: list, site_names: dict, private_feeds: frozenset[int]) -> PrefectFuture:
        return self._submit(chunk, site_names, private_feeds)

    @property
    def ahead(self) -> int:
        return self._ahead()


@contextmanager
def open_chunk_runner(config: Config, task: Task) -> Iterator[ChunkRunner]:
    """The runner `[runner] kind` asks for; its processes start while feeds are polled."""
    if config.runner.kind == "dask":
        with _dask_chunk_runner(config, task) as runner:
            yield runner
        return
    with extraction_pool(config.extract.workers, config.tagging_paths()) as pool:
        yield ChunkRunner(
            lambda chunk, names, private: task.submit(chunk, config, pool, names, private),
            lambda: 1,
        )


def build_dask_task_runner(config: Config) -> Any:
    """A DaskTaskRunner for `[runner]`: the scheduler at `dask_address`, or a temporary local
    cluster of `dask_workers` single-threaded worker processes."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError(f"{config.source}: [runner] kind: {DASK_MISSING}") from None
    runner = config.runner
    if runner.dask_address:
        return DaskTaskRunner(address=runner.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": runner.dask_workers,
            "processes": True,
            "threads_per_worker": 1,
            # The dashboard needs bokeh, which the extra does not install.
            "dashboard_address": None,
        }
    )


def _connect(task_runner: Any, config: Config) -> int:
    """Start (or reach) the cluster and warm its workers; the number of chunks it can work on
    at once."""
    import dask

    # Nannies start daemonic worker processes by default, and a daemonic process may not
    # have children: the workers' extraction pools need them.
    with dask.config.set({"distributed.worker.daemon": False}):
        try:
            client = task_runner.client
        except OSError as exc:  # distributed gives up after its connect timeout (30 s)
            if not config.runner.dask_address:
                raise
            raise ConfigError(
                f"{config.source}: [runner] dask_address: cannot reach the Dask scheduler "
                f"{config.runner.dask_address}: {exc}"
            ) from None
    # Each worker imports the pipeline and starts its pool now, while feeds are polled,
    # rather than when its first chunk arrives (about 2 s of the first chunk otherwise).
    client.run(warm_worker, config)
    return max(1, sum(client.nthreads().values()))


def _ephemeral_api_url() -> str | None:
    """The API this flow reaches when it started Prefect's ephemeral server itself (no
    PREFECT_API_URL). Workers must report there: each would otherwise start a server of its
    own, seconds per worker and runs recorded apart. None when an API is configured."""
    from prefect.context import FlowRunContext
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:
        return None
    context = FlowRunContext.get()
    return str(context.client.api_url) if context and context.client else None


@contextmanager
def _dask_chunk_runner(config: Config, task: Task) -> Iterator[ChunkRunner]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    task_runner = build_dask_task_runner(config)
    ephemeral = _ephemeral_api_url()
    # Task runs carry the flow's settings to the workers; this adds the API's address.
    settings = {PREFECT_API_URL: ephemeral} if ephemeral else {}
    with task_runner:
        with ThreadPoolExecutor(1, thread_name_prefix="dask-start") as starter:
            # A temporary cluster takes seconds to start: it does so while feeds are polled.
            slots: Future[int] = starter.submit(_connect, task_runner, config)

            def submit(chunk: list, names: dict, private: frozenset[int]) -> PrefectFuture:
                slots.result()
                # What task.submit() does with the flow's own task runner, here with Dask's.
                parameters = {
                    "chunk": chunk,
                    "config": config,
                    "pool": None,
                    "site_names": names,
                    "private_feeds": private,
                }
                with temporary_settings(updates=settings):
                    return task_runner.submit(task, parameters)

            yield ChunkRunner(submit, slots.result)
        if slots.exception() is not None:
            # No chunk needed the cluster this time; the next run with new articles will fail.
            _warn(f"the Dask cluster was not usable (no article needed it): {slots.exception()}")


def _warn(message: str) -> None:
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        get_run_logger().warning(message)
    except MissingContextError:
        logging.getLogger(__name__).warning(message)


# --- inside a Dask worker --------------------------------------------------------------------


def warm_worker(config: Config) -> str:
    """Import the task's module and start this worker's extraction pool."""
    from spacewatch.flows import pipeline  # noqa: F401 - Prefect's task engine and the fetch-extract task

    worker_pool(config)
    return process_name()


_POOLS: dict[tuple[int, TaggingPaths], ProcessPool] = {}
_POOLS_LOCK = threading.Lock()
_POOLS_CLOSE = ExitStack()


def worker_pool(config: Config) -> ProcessPool:
    """This process's own extraction pool, created on its first chunk and kept for the next
    ones (starting processes per chunk would cost seconds); closed when the process exits.

    A Dask worker started by a nanny is a multiprocessing child: it never runs `atexit`
    handlers and, at its end, waits for its children. A multiprocessing finalizer runs just
    before that wait, in a child and (through atexit) in a main process alike.
    """
    key = (config.extract.workers, config.tagging_paths())
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None or not pool.active:
            if multiprocessing.current_process().daemon:
                raise RuntimeError(DAEMONIC_WORKER)
            if not _POOLS:
                Finalize(None, _POOLS_CLOSE.close, exitpriority=10)
            pool = _POOLS[key] = _POOLS_CLOSE.enter_context(extraction_pool(*key))
        return pool
