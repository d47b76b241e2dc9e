"""Root conftest: the real-server fixtures for every test in the repository."""

pytest_plugins = ["fw_devenv.pytest_plugin"]
