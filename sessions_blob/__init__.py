"""Django sessions kept as private objects in any Django storage."""

__version__ = "0.1.0"
