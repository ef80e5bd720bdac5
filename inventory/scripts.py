"""Load the Lua operations shipped in ``inventory/lua`` and register them with a client."""

from __future__ import annotations

from importlib.resources import files

OPERATIONS = (
    "open",
    "reserve",
    "commit",
    "release",
    "cancel",
    "expire",
    "lend",
    "credit",
    "restock",
    "close",
    "soldout_mark",
    "soldout_clear",
)


def source(name: str) -> str:
    """The text sent to Redis for operation ``name``: the shared helpers, then the operation."""
    lua = files("inventory") / "lua"
    return (lua / "_lib.lua").read_text() + "\n" + (lua / f"{name}.lua").read_text()


def register(client) -> dict:
    """``{name: redis.commands.core.Script}``; redis-py reloads a script on NOSCRIPT by itself."""
    return {name: client.register_script(source(name)) for name in OPERATIONS}
