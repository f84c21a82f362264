"""The check engine: which accounts have an active story, as fast as the pairs allow.

The module map (one line per module) is in docs/DESIGN-NOTES.md, "Engine module map". In
short, outside in: `pool` (thread + loop) → `scheduler` (asyncio core) → `planner` (what to
send), `outcomes` / `effects` / `health` / `adaptive` (what an answer does), `pairbook` and
`pacing` (pairs, budgets), `sync` / `recording` (background writes) → `recorder` (`leases`,
`results`, `pairstore`: every SQL statement) with the data types in `types`; the HTTP side is
`checker` / `client` / `errors`.
"""
