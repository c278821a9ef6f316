"""The webhook service (layer 7): app, worker, analysis pool, store, metrics, logs."""
