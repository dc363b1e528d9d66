"""Monitoring: drift between the training window and recent data, staleness, retraining."""
