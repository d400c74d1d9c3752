"""A process that records acknowledgements and reports each one once it is durable.

Used by the crash test: ``python ack_writer_process.py FIRST COUNT`` records users FIRST ..
FIRST+COUNT-1 and prints ``<seq> <user_id>`` (flushed) after each ``record_acknowledgement``
returns. Settings come from the environment, as in any PolicyBot entry point.
"""

from __future__ import annotations

import sys

from bot.config import Settings
from bot.storage import AcknowledgementRequest, Store


def main(first: int, count: int) -> None:
    store = Store.from_settings(Settings())
    for index in range(first, first + count):
        result = store.record_acknowledgement(
            AcknowledgementRequest(
                platform="slack",
                workspace="T0SCHOOL",
                user_id=f"U{index:06d}",
                display_name=f"Staff {index}",
                policy_id="staff-aup",
                policy_version="2018-07",
                text_sha256="ab" * 32,
                statement="I have read and accept the Staff Acceptable Use Policy.",
                campaign_id="2026",
                source_event=f"Ev{index}",
            )
        )
        print(result.acknowledgement.seq, result.acknowledgement.user_id, flush=True)
    store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
