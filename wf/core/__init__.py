"""The pure, deterministic core: the history model, commands, replay (``Execution``),
tasks, the authoring context and registry, retry, status and payload encoding.

Nothing here does I/O, reads a clock or the environment, or imports anything of
``wf`` but ``wf.errors``; checked by the import contracts in ``pyproject.toml``.
"""
