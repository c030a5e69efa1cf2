"""Everything MLflow: model bundles, registration, aliases, the promotion ledger, rollback."""
