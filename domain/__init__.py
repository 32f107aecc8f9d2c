"""Pure domain of Alliance endorsements: levels, evidence, rules, aggregates.

No I/O, no clock, no environment: callers pass dates and ids in.
"""
