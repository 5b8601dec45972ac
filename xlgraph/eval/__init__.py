"""Metrics per language and reports."""
