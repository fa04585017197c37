"""Blueprints per audience (public, credential pages) plus errors, headers and rate limits."""
