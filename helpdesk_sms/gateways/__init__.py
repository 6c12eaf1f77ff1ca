"""Gateway adapters: one module per SMS gateway behind :class:`base.Gateway`."""
