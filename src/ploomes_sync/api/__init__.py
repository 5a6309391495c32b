"""The pieces of the Ploomes client: errors, rate limiter, retry policy and keyset paging.

The hook that puts them together is ``ploomes_sync.hooks.ploomes.PloomesHook``.
"""
