"""PolicyBot core: policies, questions, answers, acknowledgements and trends.

Plain synchronous Python. Chat platforms, web frameworks and the environment are the
adapters' business (see ``adapters/``); nothing here imports them.
"""

from __future__ import annotations

__version__ = "0.1.0"
