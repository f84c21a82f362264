"""Distributed mode (DESIGN.md §7): PostgreSQL + Redis + any number of `storycheck worker`s.

* `dispatcher.Dispatcher` — the server's `PoolListener`: after every change of the running
  batches it broadcasts `storycheck.sync_batches` (`celery_app`) to every worker.
* `worker` — `storycheck worker`: a Celery worker (`solo` pool) hosting a `WorkerPool` engine,
  a `BatchStateManager` for completions, and a batch-sync thread (poll + broadcast).
* `ownership.PairOwnership` — which worker uses which proxy+session pair (`pair_leases`,
  `worker_heartbeats` in `models`); the engine's `pair_filter`.

The database stays the source of truth for batches and items; Celery only carries nudges.
"""
