"""One module per configuration section; :mod:`config.settings` assembles them."""
