"""Airflow hooks of the sync."""
