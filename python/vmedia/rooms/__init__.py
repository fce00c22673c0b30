"""Rooms: people, roles, lobby and policy around one Mixer."""

from vmedia.rooms.room import Room

__all__ = ["Room"]
