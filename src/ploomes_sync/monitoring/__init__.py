"""The sync's health, read from the warehouse: for the UI page, its JSON and Prometheus twins, and
the stale-data alert.

    report   HealthReport: freshness, last runs, per-year table, rejects, deletions, inbox backlog
    metrics  the report as Prometheus text
    stale    the e-mail sent once per breach when no run has succeeded for too long
"""
