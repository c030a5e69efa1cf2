"""Prefect flows and tasks: ingest, train, evaluate, register, promote, retrain, schedule."""
