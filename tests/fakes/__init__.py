"""In-process stand-ins for the services the tool talks to, for tests that need no real server."""
