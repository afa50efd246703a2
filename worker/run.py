"""One run of the worker, the same for the background worker and for the tasks (and so for the
command line, which runs the tasks): open the queue, the state file and the services, recover
what a killed worker left in flight, run, close. Only the lock holder may open a run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from state.datadir import DataDir
from worker.loop import Pacing, Worker
from worker.services import Services


@contextmanager
def worker_run(
    data: DataDir,
    connection: dict | None,
    settings: dict | None = None,
    overrides: dict | None = None,
    pacing: Pacing | None = None,
    on_progress: Callable[[Worker], None] | None = None,
) -> Iterator[Worker]:
    """A recovered worker over `data`, closed with everything it opened."""
    with ExitStack() as opened:
        queue = data.open_queue()
        opened.callback(queue.close)
        store = data.open_store()
        opened.callback(store.close)
        services = Services(data, store, connection, settings, overrides)
        opened.callback(services.close)
        worker = Worker(data, queue, store, services, pacing or Pacing(), on_progress=on_progress)
        worker.recover()
        yield worker
