#!/usr/bin/env python3
"""Provisions the benchmark data set into an empty SCIM server through /Bulk, and times it.

    usage: bulk.py BASE_URL TOKEN OUT_DIR --users N --groups N [--seed N] [--operations N]

The same users, groups and memberships as seed.py (same --seed), sent as RFC 7644 §3.7 Bulk requests
one after the other over one keep-alive connection, as an identity provider's initial load would:

  1. every user as a POST /Users operation with a bulkId, up to --operations (default 1000) a request;
  2. every group as a POST /Groups operation with its members inline (the ids step 1 answered), as
     many a request as fit both the operation limit and the server's maxPayloadSize.

Both limits come from the server's /ServiceProviderConfig. Every operation must answer 201; then the
counts are checked (users, groups, one group's members). Writes OUT_DIR/bulk.json with the timings, or
{"supported": false} when the server does not advertise Bulk. Standard library only.
"""

import argparse
import json
import sys
import time

from seed import Client, dataset, group_body, group_members

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def fail(message):
    print(f"bulk: {message}", file=sys.stderr)
    sys.exit(1)


def chunks(operations, max_operations, max_bytes):
    """Splits operations into requests of at most max_operations each and at most max_bytes of JSON."""
    envelope = len(json.dumps({"schemas": [BULK_REQUEST], "Operations": []}))
    current, size = [], envelope
    for operation in operations:
        length = len(json.dumps(operation).encode()) + 2  # ", " between elements, as json.dumps writes them
        if current and (len(current) >= max_operations or size + length > max_bytes):
            yield current
            current, size = [], envelope
        current.append(operation)
        size += length
    if current:
        yield current


def run(client, operations, max_operations, max_bytes, what):
    """Sends the operations in Bulk requests; returns the created ids by bulkId, the request count and the largest body."""
    ids, requests, largest = {}, 0, 0
    for batch in chunks(operations, max_operations, max_bytes):
        body = {"schemas": [BULK_REQUEST], "Operations": batch}
        largest = max(largest, len(json.dumps(body).encode()))
        status, document = client.request("POST", "/Bulk", body)
        requests += 1
        if status != 200 or not document:
            fail(f"a Bulk request of {len(batch)} {what} answered {status}: {json.dumps(document)[:500]}")
        results = document.get("Operations", [])
        if len(results) != len(batch):
            fail(f"a Bulk request of {len(batch)} {what} answered {len(results)} results")
        for result in results:
            if str(result.get("status")) != "201" or not result.get("location"):
                fail(f"a {what} operation answered {json.dumps(result)[:500]}")
            ids[result.get("bulkId")] = result["location"].rstrip("/").rsplit("/", 1)[-1]
    return ids, requests, largest


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("token")
    parser.add_argument("out_dir")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--groups", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7643)
    parser.add_argument("--operations", type=int, default=1000, help="operations per request, at most the server's maxOperations")
    args = parser.parse_args()

    client = Client(args.base_url, args.token, timeout=600)
    status, config = client.request("GET", "/ServiceProviderConfig")
    if status != 200 or not config:
        fail(f"/ServiceProviderConfig answered {status}")
    bulk = config.get("bulk") or {}
    if not bulk.get("supported"):
        with open(f"{args.out_dir}/bulk.json", "w") as f:
            json.dump({"supported": False}, f)
        print("bulk: the server does not support Bulk")
        return
    max_operations = min(args.operations, bulk.get("maxOperations") or args.operations)
    # A little under the limit, for the difference between this estimate and the body as sent.
    max_bytes = (bulk.get("maxPayloadSize") or 1_048_576) - 1024

    _, bodies, memberships = dataset(args.users, args.groups, args.seed)
    members = group_members(memberships, args.groups)

    started = time.monotonic()
    user_operations = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": body} for i, body in enumerate(bodies)]
    user_ids, user_requests, user_largest = run(client, user_operations, max_operations, max_bytes, "user")
    users_done = time.monotonic()
    group_operations = [{
        "method": "POST", "path": "/Groups", "bulkId": f"g{g}",
        "data": group_body(g, [user_ids[f"u{u}"] for u in members[g]]),
    } for g in range(args.groups)]
    group_ids, group_requests, group_largest = run(client, group_operations, max_operations, max_bytes, "group")
    finished = time.monotonic()

    # The data is all there: counts, and one group's members.
    for endpoint, expected in (("/Users", args.users), ("/Groups", args.groups)):
        status, document = client.request("GET", f"{endpoint}?count=1")
        if status != 200 or document.get("totalResults") != expected:
            fail(f"after the Bulk requests, {endpoint} answered {status} with totalResults {document.get('totalResults')}, not {expected}")
    status, document = client.request("GET", f"/Groups/{group_ids['g0']}")
    if status != 200 or len(document.get("members", [])) != len(members[0]):
        fail(f"group 0 answered {status} with {len(document.get('members', []))} members, not {len(members[0])}")

    memberships_count = sum(len(m) for m in members)
    summary = {
        "supported": True,
        "users": args.users,
        "groups": args.groups,
        "memberships": memberships_count,
        "max_operations": max_operations,
        "max_payload_size": bulk.get("maxPayloadSize"),
        "user_requests": user_requests,
        "group_requests": group_requests,
        "largest_request_bytes": max(user_largest, group_largest),
        "users_seconds": round(users_done - started, 2),
        "groups_seconds": round(finished - users_done, 2),
        "seconds": round(finished - started, 2),
    }
    with open(f"{args.out_dir}/bulk.json", "w") as f:
        json.dump(summary, f)
    operations = args.users + args.groups
    print(f"bulk: {args.users} users in {user_requests} requests ({summary['users_seconds']} s), {args.groups} groups with "
          f"{memberships_count} memberships in {group_requests} requests ({summary['groups_seconds']} s): "
          f"{summary['seconds']} s in all, {operations / max(finished - started, 1e-9):,.0f} operations/s")


if __name__ == "__main__":
    main()
