"""Durable job stores behind the JobStore protocol."""
