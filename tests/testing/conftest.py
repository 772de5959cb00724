"""The plugin is tested as users meet it: pytest runs inside pytest (``pytester``)."""

pytest_plugins = ["pytester"]
