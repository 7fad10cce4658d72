"""The discrete-event simulator: a virtual federation and workload driven by
the real negotiator (`core.negotiate`) and accounting (`core.fairshare`).

`scenario` reads and checks the YAML, `engine` runs the virtual clock,
`report` summarises, `plot` draws. `skyflock simulate` is its command.
"""
