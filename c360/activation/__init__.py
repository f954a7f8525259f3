"""Activation: acting on the customer 360 as small pure transforms.

- :mod:`~c360.activation.suppression`: who must not be contacted, and why (shared with the next best offer).
- :mod:`~c360.activation.audiences`: selection, size cap, stratified test/control cells, response codes, and
  the campaign results (response rate, conversion, uplift) when responses come back.
- :mod:`~c360.activation.lookalike`: prospects (third-party records of no customer) and the rows a lookalike
  model learns from.

The jobs (:mod:`c360.pipelines.audience`, :mod:`c360.pipelines.lookalike`) read, call these, and write.
"""
