#!/usr/bin/env python3
"""Fuzzes a live `docket serve` with schemathesis, as an admin, an agent and a portal contact.

Started by scripts/fuzz-api.sh (which installs schemathesis). Starts the built binary on free
127.0.0.1 ports with a fresh data folder, creates through the API a team, an agent, an account, a
portal contact, a lead, a mailbox, cases, a stream entry with an attachment, an upload, an article,
a web form with a pending confirmation and a workflow rule, mints the three tokens with
`docket token`, and runs schemathesis once per token (portal, then agent, then admin, so the
least privileged callers meet the seeded records before an admin's fuzzed changes and deletions)
against the server's own /openapi.json. Path parameters, If-Match and Origin draw from the seeded
values half of the time, so requests reach past the 404s. Fails on any failure or error schemathesis
reports, on a server that dies or logs an error or a panic, and on one that does not stop
cleanly.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a correct server always satisfies, whatever it is sent (see the README, "API fuzzing"):
CHECKS = [
    "not_a_server_error",  # no 5xx, for valid and invalid input alike
    "status_code_conformance",  # every status answered is documented for the operation
    "content_type_conformance",  # with the documented media type (problem+json for errors)
    "response_schema_conformance",  # and a body that matches the documented schema
    "response_headers_conformance",  # and the documented headers (ETag, Location, Retry-After, …)
    "negative_data_rejection",  # what the document calls invalid is refused with a 4xx
    "ignored_auth",  # a route that asks for a token refuses a request without one or with a bad one
    "use_after_free",  # a deleted resource stays gone
    "ensure_resource_availability",  # a created resource can be read back
    "missing_required_header",  # a request without a required header (If-Match, Origin) is refused
    "unsupported_method",  # a method a path does not take is answered 405
    "allow_header_conformance",  # with an Allow header naming the methods it takes
]


def log(message: str) -> None:
    print(f"\n==> {message}", flush=True)


class Server:
    """One `docket serve` on free ports with its own data folder."""

    def __init__(self, binary: Path, data: Path, logs: Path):
        self.binary, self.data = binary, data
        self.stderr_log = logs / "docket-serve.stderr.log"
        self.stdout_log = logs / "docket-serve.stdout.log"
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.process = subprocess.Popen(
            [str(binary), "--data", str(data), "serve", "--listen", "127.0.0.1:0", "--smtp", "127.0.0.1:0"],
            stdout=open(self.stdout_log, "wb"),
            stderr=subprocess.PIPE,
            env=env,
        )
        self.base_url = None
        sink = open(self.stderr_log, "w", encoding="utf-8", errors="replace")
        ready = threading.Event()

        def drain() -> None:
            for raw in self.process.stderr:
                line = raw.decode("utf-8", "replace")
                sink.write(line)
                sink.flush()
                match = re.match(r"Docket is serving (http://\S+)", line)
                if match:
                    self.base_url = match.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(60) or self.base_url is None:
            self.stop()
            raise SystemExit(f"docket serve did not start:\n{self.stderr_log.read_text()}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def token(self, who: str | None = None) -> str:
        args = [str(self.binary), "--data", str(self.data), "token"] + ([who] if who else [])
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def log_lines(self, level: str) -> list[str]:
        """Lines of the server's output at `level` (its JSON logs), and any panic message."""
        text = self.stderr_log.read_text(errors="replace") + self.stdout_log.read_text(errors="replace")
        return [line for line in text.splitlines() if f'"level":"{level}"' in line or (level == "ERROR" and "panicked" in line)]

    def stop(self) -> int | None:
        """Ctrl-C, as a person would stop it; the exit status (None when it had to be killed)."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


class Client:
    def __init__(self, base_url: str, token: str):
        self.base_url, self.token = base_url, token

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None, content_type="application/json", expect=(200, 201, 202)):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        if status not in expect:
            raise SystemExit(f"seeding: {method} {path} answered {status}: {text}")
        return json.loads(text) if text.strip().startswith(("{", "[")) else text


def seed(server: Server, admin_token: str) -> dict:
    """Creates one of everything through the API and returns the ids and the two other tokens."""
    admin = Client(server.base_url, admin_token)
    me = admin.call("GET", "/me")["user"]
    team = admin.call("POST", "/teams", {"name": "Fuzz team"})
    agent = admin.call("POST", "/users", {"name": "Fuzz Agent", "email": "agent@fuzz.example", "role": "agent", "scope": "all", "team_ids": [team["id"]]})
    account = admin.call("POST", "/accounts", {"name": "Fuzz Ltd", "email_domains": ["fuzz.example"]})
    contact = admin.call(
        "POST",
        "/contacts",
        {"name": "Fuzz Customer", "emails": ["customer@fuzz.example"], "account_id": account["id"], "portal": {"role": "account_cases"}},
    )
    lead = admin.call("POST", "/leads", {"name": "Fuzz Lead", "email": "lead@prospect.example"})
    mailbox = admin.call("POST", "/mailboxes", {"name": "Fuzz support", "addresses": ["support@docket.example"], "team_id": team["id"]})
    tokens = {"admin": admin_token, "agent": server.token("agent@fuzz.example"), "portal": server.token("customer@fuzz.example")}
    portal = Client(server.base_url, tokens["portal"])
    agent_client = Client(server.base_url, tokens["agent"])

    customer_case = portal.call("POST", "/cases", {"subject": "The portal's case", "description": "Seen by everyone"})
    staff_case = admin.call(
        "POST",
        "/cases",
        {"subject": "Staff case", "account_id": account["id"], "contact_ids": [contact["id"]], "team_ids": [team["id"]], "assignee_id": agent["id"], "lead_id": lead["id"]},
    )
    internal_case = agent_client.call("POST", "/cases", {"subject": "Internal case", "internal": True, "parent_id": staff_case["id"]})
    customer_file = portal.call("POST", f"/cases/{customer_case['id']}/attachments?name=screenshot.txt", raw=b"hello", content_type="text/plain")
    staff_file = agent_client.call("POST", f"/cases/{customer_case['id']}/attachments?name=answer.txt", raw=b"answer", content_type="text/plain")
    portal.call("POST", f"/cases/{customer_case['id']}/stream", {"body": "It broke", "attachment_ids": [customer_file["id"]]})
    agent_client.call("POST", f"/cases/{customer_case['id']}/stream", {"body": "Try this", "attachment_ids": [staff_file["id"]]})
    agent_client.call("POST", f"/cases/{staff_case['id']}/stream", {"body": "Internal note", "internal": True})
    upload = portal.call("POST", f"/cases/{customer_case['id']}/attachments/uploads", {"name": "big.zip", "content_type": "application/zip", "size": 1000})
    admin.call("PUT", f"/cases/{customer_case['id']}/followers/{agent['id']}")

    article = admin.call("POST", "/articles", {"title": "How to restart", "body": "<p>Turn it off and on</p>", "status": "published", "portal_visible": True})
    draft = admin.call("POST", "/articles", {"title": "Draft", "body": "<p>Not yet</p>"})
    admin.call("PUT", f"/cases/{customer_case['id']}/articles/{article['id']}", expect=(200, 201))
    form = admin.call("POST", "/forms", {"name": "Contact us", "team_id": team["id"], "mailbox_id": mailbox["id"], "allowed_origins": ["https://www.fuzz.example"]})
    rule = admin.call(
        "POST",
        "/workflow-rules",
        {"name": "Urgent to the team", "trigger": "case_created", "conditions": [{"field": "priority", "op": "is", "value": "Urgent"}], "actions": [{"action": "assign_to_team", "team_id": team["id"]}]},
    )
    calendar = admin.call(
        "POST",
        "/calendars",
        {"name": "Office hours", "time_zone": "Europe/Berlin", "hours": {"monday": [{"start": "09:00", "end": "17:00"}]}, "holidays": [{"date": "2026-12-25", "yearly": True}]},
    )
    agreement = admin.call(
        "POST",
        "/service-agreements",
        {"name": "Gold", "calendar_id": calendar["id"], "targets": {"Normal": {"first_response_minutes": 60}}, "applies_to": {"kind": "accounts", "account_ids": [account["id"]]}},
    )

    # A web-form submission mails its sender a confirmation link; the token is in the outbox.
    Client(server.base_url, "").call("POST", f"/forms/{form['id']}/submissions", {"email": "visitor@elsewhere.example", "name": "Visitor", "subject": "Hello", "message": "Hi"})
    confirm_token = None
    deadline = time.monotonic() + 30
    while confirm_token is None and time.monotonic() < deadline:
        for mail in (server.data / "outbox").glob("**/*.eml") if (server.data / "outbox").exists() else []:
            match = re.search(r"/web-forms/confirm/([A-Za-z0-9_-]+)", mail.read_text(errors="replace").replace("=\r\n", "").replace("=\n", ""))
            if match:
                confirm_token = match.group(1)
        time.sleep(0.2)
    if confirm_token is None:
        raise SystemExit("seeding: no confirmation mail for the web-form submission in the outbox")

    cases = [customer_case, staff_case, internal_case]
    return {
        "tokens": tokens,
        "case_ref": [c["id"] for c in cases] + [str(c["number"]) for c in cases],
        "users": [agent["id"], me["id"]],
        "teams": [team["id"]],
        "accounts": [account["id"]],
        "contacts": [contact["id"]],
        "leads": [lead["id"]],
        "mailboxes": [mailbox["id"]],
        "workflow_rules": [rule["id"]],
        "calendars": [calendar["id"]],
        "service_agreements": [agreement["id"]],
        "articles": [article["id"], draft["id"]],
        "attachments": [customer_file["id"], staff_file["id"], upload["attachment_id"]],
        "followers": [agent["id"], contact["id"], me["id"]],
        "forms": [form["id"]],
        "confirm_tokens": [confirm_token],
        "etags": ['"1"', '"2"', '"3"'],
        "origins": ["https://www.fuzz.example", server.base_url],
    }


def toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def write_config(path: Path, seeded: dict, probability: float, checks: list[str]) -> None:
    """A schemathesis.toml: the checks, and path parameters and If-Match that are the seeded
    values half the time."""
    # No crash cache (.schemathesis/ in the working folder): every run starts from the seed alone.
    lines = ["[cache]", "enabled = false", ""]
    lines += ["[checks]", "enabled = false"] + [f"{check}.enabled = true" for check in checks]
    # A request the document calls invalid may be refused for another reason first: a wrong
    # If-Match is answered 412 before the body is read (RFC 9110 evaluates preconditions before
    # the content is processed), and a body over the size limit 413 before it is parsed.
    lines += ["negative_data_rejection.expected-statuses = [400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422, 428, 429]"]
    # Without its required If-Match an update is answered 428 Precondition Required (RFC 6585).
    lines += ["missing_required_header.expected-statuses = [400, 401, 403, 406, 415, 422, 428]", ""]
    names = ["case_ref", "users", "teams", "accounts", "contacts", "leads", "mailboxes", "workflow_rules", "calendars", "service_agreements", "articles", "attachments", "followers", "forms", "confirm_tokens", "etags", "origins"]
    for name in names:
        lines += [f"[dictionaries.{name}]", f"values = {toml_list(seeded[name])}", ""]
    # Parameters named alike in every operation.
    lines += [
        "[parameters]",
        f'"path.case_ref" = {{ dictionary = "case_ref", probability = {probability} }}',
        f'"path.article_id" = {{ dictionary = "articles", probability = {probability} }}',
        f'"path.attachment_id" = {{ dictionary = "attachments", probability = {probability} }}',
        f'"path.follower_id" = {{ dictionary = "followers", probability = {probability} }}',
        f'"path.form_id" = {{ dictionary = "forms", probability = {probability} }}',
        f'"path.token" = {{ dictionary = "confirm_tokens", probability = {probability} }}',
        f'"header.If-Match" = {{ dictionary = "etags", probability = {probability} }}',
        f'"header.Origin" = {{ dictionary = "origins", probability = {probability} }}',
        "",
    ]
    # `{id}` means a different kind of record under each collection.
    for collection, dictionary in [
        ("users", "users"),
        ("teams", "teams"),
        ("accounts", "accounts"),
        ("contacts", "contacts"),
        ("leads", "leads"),
        ("mailboxes", "mailboxes"),
        ("workflow-rules", "workflow_rules"),
        ("calendars", "calendars"),
        ("service-agreements", "service_agreements"),
    ]:
        lines += [
            "[[operations]]",
            f'include-path-regex = "^/{collection}/\\\\{{id\\\\}}$"',
            f'parameters = {{ "path.id" = {{ dictionary = "{dictionary}", probability = {probability} }} }}',
            "",
        ]
    # A filled honeypot (`website`) is answered 202 like any submission, so that bots learn
    # nothing: a schema-invalid submission with it is rightly "accepted".
    lines += [
        "[[operations]]",
        'include-path = "/forms/{form_id}/submissions"',
        'include-method = "POST"',
        "checks = { negative_data_rejection = { enabled = false } }",
        "",
        # An attachment is served with the content type its uploader declared, whatever its bytes
        # (with nosniff and as a download): a generated PNG declared application/x-yaml comes back
        # so, and the check would try to parse it as YAML. Its schema is any bytes anyway.
        "[[operations]]",
        'include-path = "/cases/{case_ref}/attachments/{attachment_id}"',
        'include-method = "GET"',
        "checks = { response_schema_conformance = { enabled = false } }",
        "",
        # Uploads are declared application/octet-stream: a generated file declared as YAML is
        # served back as YAML, and schemathesis 4.32.5's stateful phase then dies parsing its
        # bytes (an uncaught YAML error in its response pool) instead of testing on.
        "[[operations]]",
        'include-path = "/cases/{case_ref}/attachments"',
        'include-method = "POST"',
        'headers = { "Content-Type" = "application/octet-stream" }',
        "",
    ]
    path.write_text("\n".join(lines))


def run_schemathesis(role: str, base_url: str, token: str, config: Path, out: Path, args) -> dict:
    report_dir = out / role
    command = [
        "schemathesis",
        "--config-file",
        str(config),
        "run",
        *([str(args.schema), "--url", base_url] if args.schema else [f"{base_url}/openapi.json"]),
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--generation-database",
        "none",
        "--workers",
        str(args.workers),
        "--request-timeout",
        "20",
        "--report",
        os.environ.get("DOCKET_FUZZ_REPORT", "junit"),
        "--report-dir",
        str(report_dir),
        "--no-color",
        "--output-truncate",
        "true",
    ]
    started = time.monotonic()
    output_path = out / f"schemathesis-{role}.log"
    with open(output_path, "w") as output:
        try:
            status = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
    elapsed = time.monotonic() - started
    text = output_path.read_text(errors="replace")
    generated = re.search(r"(\d+) generated", text)
    closing = [line for line in text.splitlines() if re.match(r"^=+ .* in [\d.]+s =+$", line)]
    return {
        "role": role,
        "status": status,
        "seconds": elapsed,
        "generated": int(generated.group(1)) if generated else 0,
        "closing": closing[-1].strip("= ") if closing else "(no summary)",
        "log": output_path,
        "text": text,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--docket", type=Path, default=target / "debug" / "docket", help="the docket binary (default: the cargo debug build)")
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("DOCKET_FUZZ_EXAMPLES", "25")), help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DOCKET_FUZZ_SEED", "20261207")))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=300, help="seconds one token's run may take before it counts as failed")
    parser.add_argument("--roles", default="portal,agent,admin")
    parser.add_argument("--checks", type=lambda s: s.split(","), default=CHECKS)
    parser.add_argument("--schema", type=Path, help="test against this document instead of the one the server serves")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and the logs")
    args = parser.parse_args()

    if not args.docket.exists():
        print(f"{args.docket} is missing: build it first (cargo build -p docket)", file=sys.stderr)
        return 1
    if shutil.which("schemathesis") is None:
        print("schemathesis is not installed: run scripts/fuzz-api.sh", file=sys.stderr)
        return 1
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="docket-fuzz-"))
    data, out = work / "data", work / "out"
    out.mkdir()
    log(f"starting {args.docket} serve (data in {data})")
    server = Server(args.docket, data, out)
    results, problems = [], []
    try:
        print(f"serving {server.base_url}")
        seeded = seed(server, server.token())
        config = work / "schemathesis.toml"
        write_config(config, seeded, 0.5, args.checks)
    except (SystemExit, OSError, subprocess.CalledProcessError, KeyError, ValueError) as error:
        problems.append(f"seeding the server failed: {error}")
        seeded = None
    try:
        for role in args.roles.split(",") if seeded else []:
            log(f"schemathesis as {role}: {args.max_examples} examples per operation and phase, seed {args.seed}")
            result = run_schemathesis(role, server.base_url, seeded["tokens"][role], config, out, args)
            results.append(result)
            print(f"{role}: {result['closing']} ({result['generated']} test cases, exit {result['status']}, {result['seconds']:.0f}s)")
            if result["status"] != 0:
                print(result["text"])
                problems.append(f"{role}: schemathesis reported {result['closing']}")
            if not server.alive():
                problems.append(f"docket serve died during the {role} run (exit {server.process.returncode})")
                break
    finally:
        exit_status = server.stop()
    if exit_status != 0:
        problems.append(f"docket serve did not stop cleanly on Ctrl-C (exit {exit_status})")
    # An error logged by a handler or by a worker behind it (notify, assign) is a failure the
    # responses alone may not show.
    errors = server.log_lines("ERROR")
    if errors:
        problems.append(f"docket serve logged {len(errors)} error(s) or panic(s): " + "; ".join(line[:300] for line in errors[:5]))
    warnings = server.log_lines("WARN")

    log("API fuzzing summary")
    for result in results:
        verdict = "ok" if result["status"] == 0 else "FAILED"
        print(f"  {result['role']:<7} {verdict:<7} {result['generated']:>6} test cases in {result['seconds']:>4.0f}s  {result['closing']}")
    print(f"  checks: {', '.join(args.checks)}")
    print(f"  server log: {len(errors)} errors, {len(warnings)} warnings")
    print(f"  total {time.monotonic() - started:.0f}s")
    for problem in problems:
        print(f"  FAILURE: {problem}", file=sys.stderr)
    if problems or args.keep:
        print(f"  logs and data kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    passed = sum(1 for r in results if r["status"] == 0)
    print(f"fuzz: {passed} passed, {len(args.roles.split(',')) - passed} failed")
    return 1 if problems or passed != len(args.roles.split(",")) else 0


if __name__ == "__main__":
    sys.exit(main())
