"""``durabletask.aio``: the asyncio client."""
