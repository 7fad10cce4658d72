"""The pure core: negotiation, fair share, preemption and explanations.

No I/O, no clock, no threads: time and randomness come in as arguments.
"""
