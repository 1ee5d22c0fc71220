"""Jupyter widgets: the Explorer and linked views."""
