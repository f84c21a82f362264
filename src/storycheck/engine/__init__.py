"""The check engine: which accounts have an active story, as fast as the pairs allow.

Modules, outside in:

* `pool`       — `WorkerPool`: the background thread + event loop the app and the batch state
                 manager drive (register / unregister / sync / stop).
* `scheduler`  — the asyncio core: claims, round-robin between running batches, pair choice,
                 classification of answers, group-committed recording, background flushes.
* `checker`    — the `Checker` protocol (a pair + claimed items in, outcomes out) and the
                 HTTP `InstagramChecker`; `WorkItem`, `ItemAnswer`, `CheckOutcome`.
* `client`     — `InstagramClient`: one per pair, web headers and cookies, lookup / v1 reels_media
                 (dense: the opt-in doc_id POST), one retry on a fresh connection.
* `answers`    — reading Instagram's answers: every row of docs/instagram-facts.md → a class.
* `errors`     — the classified failures of DESIGN.md §4.4 (`RateLimited`, `LoginRequired`, …).
* `pacing`     — the `Pacer` interface and its in-memory implementation (sliding windows,
                 min interval), global caps, and `UsageLedger` (persisted reservations).
* `health`     — pair health states, full-jitter backoff, circuit breaker, error-log events.
* `recorder`   — every SQL statement: claim, exactly-once record, release, persist, reads.
* `pairs`      — a pair at run time (decrypted identity + health).
* `options`    — time scales and tuning (`EngineOptions`, env `STORYCHECK_ENGINE_*`).
* `harness`    — seeding and driving helpers for tests, benchmarks and the standalone runner.
* `run_standalone` — `python -m storycheck.engine.run_standalone`: the engine without Flask.
"""
