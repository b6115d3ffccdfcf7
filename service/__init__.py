"""Mingshan District enforcement-error accountability: decisions, procedure and case service."""
