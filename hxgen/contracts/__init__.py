"""Contracts between hxgen and the services it ships: the formats both sides read and write.

A contract module imports nothing of hxgen: the generator renders what it describes, the
service reads it, and neither reaches into the other (docs/architecture.md).
"""
