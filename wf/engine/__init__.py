"""The engine: turns messages and management calls into committed steps.

It owns its ports, the protocols of what it needs from outside (``store``, ``queue``,
``metrics``), and imports only ``wf.core`` and ``wf.errors``: no AWS SDK, no HTTP.
"""
