"""Ploomes webhooks: each change reaches the warehouse within seconds, with the same guards.

    delivery      what a valid delivery is (entity, record Id, action), and why a body is not one
    inbox         the durable inbox in the warehouse: store, pending, mark applied, backlog
    receiver      the FastAPI route Ploomes posts to (validation key, size, shape; 2xx once stored)
    apply         the applier: re-read the touched records by Id, merge, reconcile, mark applied
    trigger       the AssetWatcher trigger that wakes the applier when events are pending
    registration  register and remove the webhooks (``/Webhooks``, ``/Webhooks@Actions``)
"""
