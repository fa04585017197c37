"""A separate process that issues credentials as fast as it can (for concurrency tests).

usage: python -m tests.issuer.issue_worker START_FLAG COUNT INDEX_RANGE CAPACITY
Reads CERTMANAGER_* from the environment; prints the number of credentials it issued.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from issuer import create_app, runtime
from issuer.db import get_session, unit_of_work
from issuer.services import candidates, certifications


def main() -> None:
    start_flag, count, index_range, capacity = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    app = create_app({"status_index_range": index_range, "status_list_capacity": capacity})
    ctx = runtime.of(app).ctx
    deadline = time.monotonic() + 30
    while not start_flag.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    issued = 0
    with app.app_context():
        session = get_session()
        for _ in range(count):
            now = ctx.clock()
            with unit_of_work(session):
                candidate = candidates.create_candidate(
                    session,
                    email=f"w-{uuid.uuid4().hex}@example.org",
                    first_name="Worker",
                    last_name="Process",
                    now=now,
                )
                certifications.grant(session, ctx, candidate, "CNA-ENT", (now - timedelta(days=1)).date(), now=now)
            issued += 1
    print(issued)


if __name__ == "__main__":
    main()
