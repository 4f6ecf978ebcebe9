#!/usr/bin/env python3
"""Seeds a SCIM server with the benchmark data set and writes the files the wrk scripts read.

    usage: seed.py BASE_URL TOKEN OUT_DIR --users N --groups N [--workers N] [--seed N] [--pairs N]

Creates N users (POST /Users) and N groups (POST /Groups, members inline: every user is in 2 or 3
groups drawn at random), over keep-alive connections from a pool of threads, then checks that the
server answers the benchmark's requests as it should (a lookup finds exactly its user, a page has
100 users, a membership add and remove round-trips). The data set depends only on --seed, so both
servers get the same one. Writes into OUT_DIR:

    usernames.txt   one userName a line (the lookup scenario draws from it)
    pairs.txt       "groupId userId" lines: users that are not members of that group (PATCH targets)
    seed.json       counts and how long seeding took

Standard library only, so it runs under any python3.
"""

import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

GIVEN = ["Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
         "John", "Katherine", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Whitfield", "Yukihiro"]
FAMILY = ["Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "Lamarr",
          "Sutherland", "Backus", "Johnson", "Lamport", "Hamilton", "Wirth", "Perlman", "Goldwasser",
          "Berners-Lee", "Diffie", "Matsumoto"]
DEPARTMENTS = ["engineering", "sales", "support", "finance", "legal", "marketing", "research", "ops"]


class Client:
    """One keep-alive HTTP connection per thread; reconnects when the server closes it."""

    local = threading.local()

    def __init__(self, base_url, token, timeout=60):
        parsed = urllib.parse.urlsplit(base_url)
        self.timeout = timeout
        self.host, self.port = parsed.hostname, parsed.port
        self.prefix = parsed.path.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
        }

    def _connection(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.connection = connection
        return connection

    def request(self, method, path, body=None):
        payload = None if body is None else json.dumps(body).encode()
        for attempt in range(3):
            connection = self._connection()
            try:
                connection.request(method, self.prefix + path, body=payload, headers=self.headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    connection.close()
                    self.local.connection = None
                return response.status, (json.loads(data) if data else None)
            except (http.client.HTTPException, ConnectionError, OSError):
                # A keep-alive connection the server closed between two requests: open a new one.
                connection.close()
                self.local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def user_body(index, rng):
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    user_name = f"{given.lower()}.{family.lower()}.{index:06d}@bench.example.org"
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": f"ext-{index:06d}",
        "name": {"givenName": given, "familyName": family, "formatted": f"{given} {family}"},
        "displayName": f"{given} {family}",
        "title": rng.choice(["Engineer", "Manager", "Analyst", "Director", "Associate"]),
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }


def dataset(users, groups, seed):
    """The users' bodies and each user's groups (2 or 3 distinct ones, drawn at random): the same for a seed.

    Returns the random generator too, which goes on to draw the PATCH scenario's pairs."""
    rng = random.Random(seed)
    bodies = [user_body(i, rng) for i in range(users)]
    memberships = [rng.sample(range(groups), rng.choice((2, 3))) if groups >= 3 else list(range(groups))
                   for _ in range(users)]
    return rng, bodies, memberships


def group_members(memberships, groups):
    """The users (by index) of each group."""
    members = [[] for _ in range(groups)]
    for user, user_groups in enumerate(memberships):
        for group in user_groups:
            members[group].append(user)
    return members


def group_body(index, member_ids):
    return {
        "schemas": [GROUP_SCHEMA],
        "displayName": f"{DEPARTMENTS[index % len(DEPARTMENTS)]}-team-{index:05d}",
        "externalId": f"grp-{index:05d}",
        "members": [{"value": member_id} for member_id in member_ids],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("token")
    parser.add_argument("out_dir")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--groups", type=int, required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7643)
    parser.add_argument("--pairs", type=int, default=50000, help="non-member (group, user) pairs to write")
    args = parser.parse_args()

    rng, bodies, memberships = dataset(args.users, args.groups, args.seed)
    client = Client(args.base_url, args.token)

    def fail(message):
        print(f"seed: {message}", file=sys.stderr)
        sys.exit(1)

    def create(path, body):
        status, document = client.request("POST", path, body)
        if status != 201 or not document or "id" not in document:
            fail(f"POST {path} answered {status}: {json.dumps(document)[:500]}")
        return document["id"]

    started = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        user_ids = list(pool.map(lambda body: create("/Users", body), bodies, chunksize=64))
    users_done = time.monotonic()

    members = group_members(memberships, args.groups)
    group_bodies = [group_body(g, [user_ids[u] for u in members[g]]) for g in range(args.groups)]
    with ThreadPoolExecutor(args.workers) as pool:
        group_ids = list(pool.map(lambda body: create("/Groups", body), group_bodies, chunksize=8))
    finished = time.monotonic()

    # Sanity checks, so that the load phase measures real answers and not errors or empty pages.
    for index in rng.sample(range(args.users), min(5, args.users)):
        name = bodies[index]["userName"]
        query = urllib.parse.quote(f'userName eq "{name}"', safe="")
        status, document = client.request("GET", f"/Users?filter={query}")
        if status != 200 or document.get("totalResults") != 1 or document["Resources"][0]["id"] != user_ids[index]:
            fail(f"the lookup of {name} answered {status}: {json.dumps(document)[:500]}")
    if args.users >= 100:
        status, document = client.request("GET", f"/Users?startIndex={args.users - 99}&count=100")
        if status != 200 or len(document.get("Resources", [])) != 100 or document.get("totalResults") != args.users:
            fail(f"a page of 100 answered {status}, {len(document.get('Resources', []))} resources, "
                 f"totalResults {document.get('totalResults')}")
    status, document = client.request("GET", f"/Groups/{group_ids[0]}")
    if status != 200 or len(document.get("members", [])) != len(members[0]):
        fail(f"group 0 answered {status} with {len(document.get('members', []))} members, not {len(members[0])}")

    # (group, user) pairs where the user is not a member yet: the targets of the PATCH scenario.
    pairs, taken = [], set()
    wanted = min(args.pairs, (args.groups * args.users - sum(len(m) for m in memberships)) // 2)
    while len(pairs) < wanted:
        group, user = rng.randrange(args.groups), rng.randrange(args.users)
        if group in memberships[user] or (group, user) in taken:
            continue
        taken.add((group, user))
        pairs.append((group_ids[group], user_ids[user]))
    group_id, user_id = pairs[-1]
    for op, path in (("add", "members"), ("remove", f'members[value eq "{user_id}"]')):
        operation = {"op": op, "path": path}
        if op == "add":
            operation["value"] = [{"value": user_id}]
        status, document = client.request("PATCH", f"/Groups/{group_id}", {"schemas": [PATCH_SCHEMA], "Operations": [operation]})
        if status not in (200, 204):
            fail(f"PATCH {op} answered {status}: {json.dumps(document)[:500]}")
    status, document = client.request("GET", f"/Groups/{group_id}")
    if status != 200 or any(m.get("value") == user_id for m in document.get("members", [])):
        fail(f"after add and remove, group {group_id} answered {status} and still lists {user_id}")

    with open(f"{args.out_dir}/usernames.txt", "w") as f:
        f.writelines(body["userName"] + "\n" for body in bodies)
    with open(f"{args.out_dir}/pairs.txt", "w") as f:
        f.writelines(f"{g} {u}\n" for g, u in pairs)
    summary = {
        "users": args.users,
        "groups": args.groups,
        "memberships": sum(len(m) for m in memberships),
        "workers": args.workers,
        "users_seconds": round(users_done - started, 2),
        "groups_seconds": round(finished - users_done, 2),
        "seconds": round(finished - started, 2),
    }
    with open(f"{args.out_dir}/seed.json", "w") as f:
        json.dump(summary, f)
    print(f"seeded {args.users} users in {summary['users_seconds']} s and {args.groups} groups "
          f"({summary['memberships']} memberships) in {summary['groups_seconds']} s, {args.workers} workers")


if __name__ == "__main__":
    main()
