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
    "merge",
)


# Scripts that settle claims share helpers from _lib.lua; the others (reserve above all) stay
# free of the prelude, which would cost every call.
WITH_LIB = frozenset({"commit", "release", "cancel", "expire"})


def source(name: str) -> str:
    """The text sent to Redis for operation ``name`` (helpers first where it needs them)."""
    lua = files("inventory") / "lua"
    text = (lua / f"{name}.lua").read_text()
    return (lua / "_lib.lua").read_text() + "\n" + text if name in WITH_LIB else text


def register(client) -> dict:
    """``{name: redis.commands.core.Script}``; redis-py reloads a script on NOSCRIPT by itself."""
    return {name: client.register_script(source(name)) for name in OPERATIONS}
