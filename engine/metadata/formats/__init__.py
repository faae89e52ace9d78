"""Tag formats, one module per container family; every module here is imported by the registry.

To add a format: a module with a :class:`engine.metadata.registry.TagFormat` subclass decorated
with ``@register``, and a three-line class in ``tests/test_metadata_formats.py``.
"""
