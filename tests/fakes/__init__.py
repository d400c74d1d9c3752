"""Loopback fakes for the services PolicyBot talks to (real servers on 127.0.0.1, port 0)."""
