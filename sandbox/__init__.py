"""The regulatory sandbox: simulated venue, seeded price paths, synthetic personas and test clocks.

The platform has no live venue or market data feed yet, so `gateway/app.py` wires the simulated
venue and price paths into production as well as into the sandbox.
"""
