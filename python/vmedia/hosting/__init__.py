"""Driving rooms on the wall clock."""

from vmedia.hosting.live import run_live

__all__ = ["run_live"]
