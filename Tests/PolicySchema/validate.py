#!/usr/bin/env python3
"""Checks the JSON Schema for policy files (docs/policy.schema.json).

Every policies/*.yaml must validate against it, a set of deliberately broken snippets must be rejected,
and a set of valid ones (every feature of the format) must be accepted, so that the schema is neither
too loose nor stricter than `portcullis policy check`. Exits non-zero on any failure.

    usage: python3 Tests/PolicySchema/validate.py docs/policy.schema.json policies

Needs the packages in Tests/PolicySchema/requirements.txt, e.g. in a virtual environment:

    python3 -m venv .build/policyschema-venv
    .build/policyschema-venv/bin/pip install -r Tests/PolicySchema/requirements.txt
    .build/policyschema-venv/bin/python Tests/PolicySchema/validate.py docs/policy.schema.json policies
"""

import json
import re
import sys
from pathlib import Path

try:
    import jsonschema
    import yaml
except ImportError as error:  # pragma: no cover - depends on the environment
    sys.exit(
        f"error: {error.name} is missing; install the pinned packages first:\n"
        "    python3 -m venv .build/policyschema-venv\n"
        "    .build/policyschema-venv/bin/pip install -r Tests/PolicySchema/requirements.txt\n"
        "and run this script with .build/policyschema-venv/bin/python"
    )


class PolicyYAMLLoader(yaml.SafeLoader):
    """Reads YAML the way editors (YAML 1.2) and portcullis do: timestamps stay text, only
    true/false are booleans (not yes/no/on/off), and a key twice in one mapping is an error."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found the key {key!r} twice", key_node.start_mark
                )
            seen[key] = True
        return super().construct_mapping(node, deep=deep)


PolicyYAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PolicyYAMLLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text):
    """The document as JSON-like data; mapping keys become strings, as the YAML text spells them."""

    def normalize(value):
        if isinstance(value, dict):
            return {str(key): normalize(item) for key, item in value.items()}
        if isinstance(value, list):
            return [normalize(item) for item in value]
        return value

    return normalize(yaml.load(text, Loader=PolicyYAMLLoader))


def location(error):
    return "/".join(str(part) for part in error.absolute_path) or "(top level)"


def wrong_type(error):
    """Whether the error only says the value is of another type than this alternative expects."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        return all(wrong_type(sub) for sub in error.context)
    return error.validator in ("type", "enum")


def describe(error):
    """One line per problem; long patterns are named by what they describe rather than printed."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        # The alternative of the right type (a mapping where a mapping was written) explains best.
        relevant = [sub for sub in error.context if not wrong_type(sub)] or list(error.context)
        if all(sub.validator == "required" for sub in relevant) and "description" in error.schema:
            return error.schema["description"]
        deepest = max(relevant, key=lambda sub: len(sub.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path) or deepest.validator in ("additionalProperties", "required"):
            return describe(deepest)
        return f"{error.instance!r} is not valid here: {error.schema.get('description', 'see docs/policies.md')}"
    if error.validator == "pattern":
        return f"{error.instance!r} is not valid: {error.schema.get('description', 'wrong format')}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        patterns = [re.compile(pattern) for pattern in error.schema.get("patternProperties", {})]
        unknown = [key for key in error.instance if key not in known and not any(p.search(key) for p in patterns)]
        if unknown:
            return f"unknown key(s) {', '.join(map(repr, unknown))}; expected one of: {', '.join(sorted(known))}"
    return error.message


def problems(validator, document):
    return [f"{location(error)}: {describe(error)}" for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


# Snippets the schema must reject, each with why.
BROKEN = {
    "misspelled top-level key": "resource:\n  git: { hosts: [10.0.0.1] }\n",
    "misspelled rule key": "rules:\n  - name: r\n    group: [Eng]\n    allow: [10.0.0.0/8]\n",
    "misspelled resource key": "resources:\n  git: { host: [10.0.0.1] }\n",
    "misspelled destination key": "rules:\n  - name: r\n    groups: [Eng]\n    allow: [{ to: git, port: [tcp/22] }]\n",
    "misspelled test key": "tests:\n  - name: t\n    user: { groups: [Eng] }\n    denied: [git:tcp/22]\n",
    "unknown where attribute": "rules:\n  - name: r\n    where: { departmnt: Sales }\n    allow: [10.0.0.0/8]\n",
    "unknown test user key": "tests:\n  - name: t\n    user: { group: [Eng] }\n    deny: [git:tcp/22]\n",
    "IPv4 octet out of range": "resources:\n  git: { hosts: [10.0.0.256] }\n",
    "octal-looking IPv4 octet": "resources:\n  git: { hosts: [010.0.0.1] }\n",
    "IPv4 prefix length out of range": "resources:\n  git: { hosts: [10.0.0.0/33] }\n",
    "IPv6 with too many groups": 'resources:\n  git: { hosts: ["1:2:3:4:5:6:7:8:9"] }\n',
    "IPv6 with two ::": 'resources:\n  git: { hosts: ["2001::db8::1"] }\n',
    "IPv6 prefix length out of range": 'resources:\n  git: { hosts: ["2001:db8::/129"] }\n',
    "resource without hosts": "resources:\n  git: { ports: [tcp/22] }\n",
    "resource with an empty host list": "resources:\n  git: { hosts: [] }\n",
    "resource name starting with a digit": "resources:\n  1git: { hosts: [10.0.0.1] }\n",
    "port out of range": "resources:\n  git: { hosts: [10.0.0.1], ports: [tcp/70000] }\n",
    "unknown protocol": "resources:\n  git: { hosts: [10.0.0.1], ports: [sctp/9] }\n",
    "ICMP with a port": "resources:\n  git: { hosts: [10.0.0.1], ports: [icmp/8] }\n",
    "port before protocol": "resources:\n  git: { hosts: [10.0.0.1], ports: [22/tcp] }\n",
    "rule without a selector": "rules:\n  - name: r\n    allow: [10.0.0.0/8]\n",
    "rule without allow or deny": "rules:\n  - name: r\n    groups: [Eng]\n",
    "rule without a name": "rules:\n  - groups: [Eng]\n    allow: [10.0.0.0/8]\n",
    "until that is not a timestamp": "rules:\n  - name: r\n    groups: [Eng]\n    allow: [10.0.0.0/8]\n    until: next week\n",
    "until as a number": "rules:\n  - name: r\n    groups: [Eng]\n    allow: [10.0.0.0/8]\n    until: 2027\n",
    "where with an empty list": "rules:\n  - name: r\n    where: { department: [] }\n    allow: [10.0.0.0/8]\n",
    "destination without to": "rules:\n  - name: r\n    groups: [Eng]\n    allow: [{ ports: [tcp/22] }]\n",
    "destination that is a bad address": "rules:\n  - name: r\n    groups: [Eng]\n    deny: [10.0.0.0.0/8]\n",
    "rules as a mapping": "rules:\n  name: r\n",
    "resources as a list": "resources: [git]\n",
    "probe without a protocol": "tests:\n  - name: t\n    user: { groups: [Eng] }\n    allow: [git-tcp-22]\n",
    "IPv6 probe without brackets": 'tests:\n  - name: t\n    user: { groups: [Eng] }\n    allow: ["2001:db8::1:tcp/22"]\n',
    "probe with a bad port": "tests:\n  - name: t\n    user: { groups: [Eng] }\n    allow: [git:tcp/99999]\n",
    "test without a user": "tests:\n  - name: t\n    deny: [git:tcp/22]\n",
    "test without allow or deny": "tests:\n  - name: t\n    user: { groups: [Eng] }\n",
    "active that is not a boolean": "tests:\n  - name: t\n    user: { active: yes }\n    deny: [git:tcp/22]\n",
    "test at that is not a timestamp": "tests:\n  - name: t\n    user: {}\n    at: tomorrow\n    deny: [git:tcp/22]\n",
    "a file that is a list": "- git\n- wiki\n",
}

# Snippets the schema must accept: every form portcullis accepts.
VALID = {
    "empty file": "",
    "only a comment": "# nothing yet\n",
    "every resource form": """
resources:
  git:
    description: Git server.
    hosts: [10.20.1.10/32, 10.20.1.11, "2001:db8:20::10/128", "::ffff:10.0.0.1", "fe80::", "::"]
    ports: [tcp/22, TCP/443, udp/53, tcp/8000-8100, tcp, udp, icmp, any]
  lab:
    hosts: 10.3.0.0/16
    ports: any
  everything:
    hosts: [0.0.0.0/0, "::/0"]
  Zone.A_1 b:
    hosts:
      - 192.168.0.0/24
      - "2001:db8:0:1:2:3:4:5"
""",
    "every rule form": """
rules:
  - name: engineers
    description: Engineers use git.
    groups: [Engineering, backend]
    users: ada@example.com
    where: { department: [R&D, Platform], costCenter: 4711, Title: Engineer }
    allow:
      - git
      - 10.9.0.0/16
      - { to: lab, ports: [udp/53, icmp] }
      - to: "2001:db8::/32"
        ports: tcp/443
    deny: [{ to: git, ports: any }]
    until: 2027-06-30T12:30:00+02:00
  - name: one group
    groups: Finance
    deny: erp
    until: 2027-06-30
  - name: by attribute
    where:
      department: Sales
    allow: [crm]
    until: 2027-06-30 10:00:00.5 Z
""",
    "every test form": """
tests:
  - name: ada's access
    user: { userName: ada@example.com, groups: [Engineering], active: false, department: R&D, emails: [a@x.example, b@x.example] }
    at: 2027-01-01T00:00:00Z
    allow: [git:tcp/22, "[2001:db8:20::10]:tcp/443", 10.3.0.1:icmp, 10.3.0.0/24:udp/53, staging:any, git:TCP/8000-8100]
    deny: lab:any
  - name: nobody
    user: {}
    deny: [dns:udp/53]
""",
}


def main(arguments):
    if len(arguments) != 3:
        print("usage: python3 Tests/PolicySchema/validate.py SCHEMA.json POLICY-FOLDER", file=sys.stderr)
        return 2
    schema_path, policy_directory = Path(arguments[1]), Path(arguments[2])
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    if validator_class is not jsonschema.Draft202012Validator:
        print(f"error: {schema_path} should declare JSON Schema draft 2020-12", file=sys.stderr)
        return 1
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    failures = 0

    files = sorted(path for path in policy_directory.iterdir() if path.suffix in (".yaml", ".yml") and not path.name.startswith("."))
    if not files:
        print(f"FAIL {policy_directory}: no policy files")
        failures += 1
    for path in files:
        try:
            document = load_yaml(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            print(f"FAIL {path}: invalid YAML: {error}")
            failures += 1
            continue
        found = problems(validator, document)
        if found:
            failures += 1
            print(f"FAIL {path}")
            for problem in found:
                print(f"    {problem}")
        else:
            print(f"ok   {path}")

    for why, text in BROKEN.items():
        try:
            found = problems(validator, load_yaml(text))
        except yaml.YAMLError as error:
            found = [f"invalid YAML: {error}"]
        if found:
            print(f"ok   rejects {why}: {found[0]}")
        else:
            failures += 1
            print(f"FAIL accepts {why}:\n{text}")

    for why, text in VALID.items():
        found = problems(validator, load_yaml(text))
        if found:
            failures += 1
            print(f"FAIL rejects {why}:")
            for problem in found:
                print(f"    {problem}")
        else:
            print(f"ok   accepts {why}")

    total = len(files) + len(BROKEN) + len(VALID)
    print(f"{total} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
