"""The sync's web app, mounted by the Airflow plugin on the API server at ``/ploomes-sync``.

    app      create_app(): the FastAPI app and its routes
    auth     every route but the webhook receiver requires an Airflow login allowed to read the DAG
    pages    the health page (HTML), its JSON and Prometheus twins, the chart library's script
    render   the health page's HTML: pandas tables, plotly charts, one Jinja template
"""
