"""Builders of relations: each returns edges ``(source, target, weight)`` over class indices."""
