#!/usr/bin/env python3
"""Run scim2-tester's full check_server suite against a SCIM server and fail unless every check is SUCCESS.

usage: check_server.py BASE_URL TOKEN
Prints every result that is not SUCCESS, then the counts per status. Exit code 0 only when
all results are SUCCESS: an ERROR, CRITICAL, SKIPPED (or any other status) fails.
"""
import collections
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)

    counts = collections.Counter(result.status.name for result in results)
    for result in results:
        if result.status != Status.SUCCESS:
            print(f"{result.status.name}: [{result.resource_type or '-'}] {result.title}: {result.reason}")
    summary = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    print(f"scim2-tester check_server: {len(results)} checks: {summary}")
    if not results or set(counts) != {"SUCCESS"}:
        print("conformance FAILED: every check must be SUCCESS")
        return 1
    print("conformance passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
