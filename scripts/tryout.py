#!/usr/bin/env python3
"""End-to-end try-out of the Phụ nữ Thủ đô API, driven over HTTP as its users would.

    python3 tryout.py BASE_URL [--metrics-token TOKEN] [--server-log PATH]

BASE_URL is the server's root, e.g. http://127.0.0.1:8091. --server-log is the file the server
writes its log to: in development the SMS sender prints one-time codes there, and the new
member's registration reads hers from it. --metrics-token is the server's APP_METRICS_TOKEN.

One line per check, `OK <what>` or `FAIL <what>: <status/codes/excerpt>`; the exit status is 1
when any check failed. Passwords, tokens, client secrets, one-time codes, PINs and what a
violence report says are never printed (only codes and counts).

Standard library only.
"""

import argparse
import base64
import datetime
import gzip
import http.client
import json
import os
import random
import re
import sys
import time
import traceback
import urllib.parse
import uuid
import zlib
import struct

DEMO_PASSWORD = "phunu-demo-2026"
MEMBER = "0900000007"
SYSADMIN = "0900000001"
UNIT_OFFICER = "0900000003"
CASE_OFFICER = "0900000004"
BRANCH_LEADER = "0900000005"
BRANCH = "HN-LB-BD-01"
WARD_OFFICER = "0900000009"
CITY_ADMIN = "0900000002"
WARD = "HN-LB-BD"
DISTRICT = "HN-LB"

GRAPHQL_ACCEPT = "application/graphql-response+json, application/json;q=0.9"

# Keys whose values never appear in this script's output, whatever the check.
REDACTED_KEYS = {
    "accesstoken", "refreshtoken", "devicetoken", "verificationtoken", "clientsecret", "secret",
    "access_token", "password", "pin", "description", "address", "contact", "text", "checkincode",
    "phone", "fullname", "otpauthuri", "recoverycodes", "body", "code_value",
}

# graphql-js 16.15.0 getIntrospectionQuery({descriptions, specifiedByUrl, directiveIsRepeatable,
# schemaDescription, inputValueDeprecation, oneOf}), as the tests keep it.
INTROSPECTION_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api", "introspection", "all-options.graphql"
)


def introspection_query():
    with open(INTROSPECTION_FILE, encoding="utf-8") as f:
        return f.read()


UNIT_TREE = """query UnitTree {
  orgUnit(code: "HN") {
    id code name kind
    children(first: 20) {
      totalCount
      edges { node { id code name kind depth
        children(first: 20) { totalCount edges { node { id code name kind depth } } } } }
    }
  }
}"""

HOME = """query Home {
  me { id fullName membership { id memberNumber status branch { code name parent { code name } } } }
  unreadNotificationCount
  feed(first: 5) { edges { node { id title coverImageUrl publishedAt unit { code name } } } }
  campaigns(first: 10) { edges { node { id kind title summary coverImageUrl termEnd status unit { code name }
    criteria { id } myPledges { kind status } } } }
  trainings(first: 5) { edges { node { id title category startsAt place seatsLeft registrationOpen
    unit { code name } myRegistration { status waitlistPosition } } } }
}"""

LOGIN = """mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt person { id } }
}"""


# ----------------------------------------------------------------------------------------------
# Output


class Report:
    def __init__(self):
        self.failures = 0
        self.passes = 0

    def ok(self, what):
        self.passes += 1
        print(f"OK {what}", flush=True)

    def fail(self, what, detail):
        self.failures += 1
        print(f"FAIL {what}: {detail}", flush=True)

    def check(self, what, cond, detail=""):
        if cond:
            self.ok(what)
        else:
            self.fail(what, detail)
        return bool(cond)


R = Report()


def redact(value):
    """`value` with every sensitive field's value replaced."""
    if isinstance(value, dict):
        return {k: ("<redacted>" if k.lower() in REDACTED_KEYS and v is not None else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def excerpt(value, limit=300):
    text = json.dumps(redact(value), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "…"


# ----------------------------------------------------------------------------------------------
# HTTP


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage (case-insensitive)
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except Exception:
            return None


class Http:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise SystemExit(f"not an http(s) URL: {base}")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port
        self.prefix = u.path.rstrip("/")

    def request(self, method, path, body=None, headers=None, timeout=60):
        """One request; nothing is added to `headers` but Host and Content-Length (in
        particular no Accept-Encoding, which http.client would otherwise send)."""
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=timeout)
        try:
            conn.putrequest(method, self.prefix + path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            data = r.read()
            return Resp(r.status, r.headers, data)
        finally:
            conn.close()


H = None  # Http, set in main


class Gql:
    def __init__(self, resp):
        self.resp = resp
        self.status = resp.status
        self.body = resp.json()
        b = self.body if isinstance(self.body, dict) else {}
        self.data = b.get("data")
        self.errors = b.get("errors") or []

    @property
    def codes(self):
        return [(e.get("extensions") or {}).get("code") for e in self.errors]

    def code(self):
        return self.codes[0] if self.codes else None

    def reason(self):
        return ((self.errors[0].get("extensions") or {}).get("reason")) if self.errors else None

    def ok(self):
        return not self.errors and isinstance(self.data, dict)

    def get(self, *path):
        cur = self.data
        for p in path:
            if isinstance(cur, dict):
                cur = cur.get(p)
            elif isinstance(cur, list) and isinstance(p, int) and -len(cur) <= p < len(cur):
                cur = cur[p]
            else:
                return None
        return cur

    def why(self):
        """Status, error codes (with reason, field, path) and a redacted excerpt: never a
        message, a token or a secret."""
        if self.body is None:
            raw = self.resp.body[:200].decode("utf-8", "replace")
            return f"HTTP {self.status}, body not JSON: {raw!r}"
        errs = []
        for e in self.errors:
            ext = e.get("extensions") or {}
            bits = [str(ext.get("code"))]
            for k in ("reason", "field", "coordinate", "requiredScope"):
                if ext.get(k):
                    bits.append(f"{k}={ext.get(k)}")
            if e.get("path"):
                bits.append("path=" + ".".join(str(p) for p in e["path"]))
            errs.append(" ".join(bits))
        out = f"HTTP {self.status}"
        if errs:
            out += ", errors: " + "; ".join(errs)
        if self.data is not None:
            out += ", data: " + excerpt(self.data)
        return out


def gql(query, variables=None, token=None, headers=None, operation_name=None):
    payload = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    if operation_name:
        payload["operationName"] = operation_name
    h = {"Content-Type": "application/json", "Accept": GRAPHQL_ACCEPT}
    if token:
        h["Authorization"] = f"Bearer {token}"
    if query.lstrip().startswith("mutation"):
        # Every write of the apps carries an idempotency key (docs/api.md: retrying writes).
        h["Idempotency-Key"] = str(uuid.uuid4())
    if headers:
        h.update(headers)
    return Gql(H.request("POST", "/graphql", json.dumps(payload).encode("utf-8"), h))


def edges(conn):
    if not isinstance(conn, dict):
        return []
    return [e.get("node") for e in (conn.get("edges") or []) if isinstance(e, dict)]


def login(phone, password=DEMO_PASSWORD, what=None):
    g = gql(LOGIN, {"input": {"phone": phone, "password": password,
                              "device": {"label": "tryout", "platform": "OTHER"}}})
    token = g.get("login", "accessToken")
    R.check(what or f"login {phone}", g.ok() and isinstance(token, str) and token, g.why())
    return g.get("login") if g.ok() else None


def hanoi_now():
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)


def unit_id(code, token=None):
    g = gql("query Unit($c: String!) { orgUnit(code: $c) { id code kind } }", {"c": code}, token)
    return g.get("orgUnit", "id"), g


# ----------------------------------------------------------------------------------------------
# 0. Probes


def probes():
    for path in ("/healthz", "/readyz"):
        r = H.request("GET", path)
        R.check(f"GET {path} answers 200", r.status == 200, f"HTTP {r.status}")


# ----------------------------------------------------------------------------------------------
# 1. The member app


def member_app(sessions):
    auth = login(MEMBER, what=f"member {MEMBER} signs in")
    if not auth:
        return
    token, refresh = auth["accessToken"], auth["refreshToken"]

    home = gql(HOME, token=token, operation_name="Home")
    if not R.check("home screen answers without errors", home.ok(), home.why()):
        return
    ms = home.get("me", "membership") or {}
    R.check(f"home: her membership is ACTIVE at {BRANCH}",
            ms.get("status") == "ACTIVE" and (ms.get("branch") or {}).get("code") == BRANCH
            and re.fullmatch(r"HN\d+", ms.get("memberNumber") or ""),
            excerpt(ms))
    feed = edges(home.get("feed"))
    outside = [p for p in feed if not ((p.get("unit") or {}).get("code") in ("HN", DISTRICT, WARD, BRANCH))]
    R.check(f"home: feed has {len(feed)} posts, all from her branch or the units above it",
            len(feed) >= 1 and not outside, f"{len(feed)} posts, {len(outside)} from elsewhere: "
            + excerpt([(p.get('unit') or {}).get('code') for p in outside]))
    campaigns = edges(home.get("campaigns"))
    R.check(f"home: {len(campaigns)} active campaigns",
            len(campaigns) >= 2 and all(c.get("status") == "ACTIVE" for c in campaigns),
            excerpt([(c.get("status"), (c.get("unit") or {}).get("code")) for c in campaigns]))
    trainings = edges(home.get("trainings"))
    R.check(f"home: {len(trainings)} upcoming trainings",
            len(trainings) >= 3, excerpt([t.get("id") for t in trainings]))
    unread = home.get("unreadNotificationCount")
    R.check(f"home: unread notification count {unread}", isinstance(unread, int) and unread >= 0,
            home.why())

    # A training: register, then see the registration.
    open_ = [t for t in trainings if t.get("registrationOpen")]
    if R.check("home: a training is open for registration", open_, excerpt(trainings)):
        t = open_[0]
        g = gql("""mutation Register($t: ID!) { registerForTraining(trainingId: $t) {
                    id status waitlistPosition training { id } } }""", {"t": t["id"]}, token)
        reg = g.get("registerForTraining") or {}
        R.check("registerForTraining: CONFIRMED or WAITLISTED",
                g.ok() and reg.get("status") in ("CONFIRMED", "WAITLISTED")
                and (reg.get("training") or {}).get("id") == t["id"], g.why())
        g = gql("""query Mine { myTrainingRegistrations { id status training { id } }
                    trainings(first: 20) { edges { node { id myRegistration { id status } } } } }""",
                token=token)
        mine = [r for r in (g.get("myTrainingRegistrations") or []) if (r.get("training") or {}).get("id") == t["id"]]
        listed = [n for n in edges(g.get("trainings")) if n.get("id") == t["id"]]
        R.check("myTrainingRegistrations and trainings.myRegistration show her registration",
                g.ok() and len(mine) == 1 and mine[0].get("id") == reg.get("id")
                and mine[0].get("status") == reg.get("status")
                and listed and (listed[0].get("myRegistration") or {}).get("id") == reg.get("id"),
                g.why())

    # A campaign: a personal pledge for this year (docs/features/campaigns.md).
    with_criteria = [c for c in campaigns if c.get("criteria")] or campaigns
    if with_criteria:
        c = with_criteria[0]
        year = hanoi_now().year
        g = gql("""mutation Pledge($c: ID!, $i: PledgeInput!) { submitPledge(campaignId: $c, input: $i) {
                    id kind year status campaign { id } } }""",
                {"c": c["id"], "i": {"kind": "PERSONAL", "year": year}}, token)
        p = g.get("submitPledge") or {}
        if g.code() == "CONFLICT" and g.reason() == "ALREADY_PLEDGED":
            R.ok("submitPledge: CONFLICT ALREADY_PLEDGED (she pledged in an earlier run)")
        else:
            R.check("submitPledge: a PERSONAL pledge for this year, SUBMITTED",
                    g.ok() and p.get("status") == "SUBMITTED" and p.get("kind") == "PERSONAL"
                    and p.get("year") == year, g.why())
        g = gql("""query MyPledges { myPledges(first: 20) { totalCount edges { node { id kind year status campaign { id } } } }
                    campaigns(first: 10) { edges { node { id myPledges { kind status } } } } }""", token=token)
        hers = [x for x in edges(g.get("myPledges"))
                if (x.get("campaign") or {}).get("id") == c["id"] and x.get("kind") == "PERSONAL" and x.get("year") == year]
        on_campaign = [n for n in edges(g.get("campaigns")) if n.get("id") == c["id"]]
        R.check(f"myPledges ({g.get('myPledges', 'totalCount')}) and campaign.myPledges show her pledge",
                g.ok() and len(hers) == 1 and on_campaign
                and any(x.get("kind") == "PERSONAL" for x in on_campaign[0].get("myPledges") or []),
                g.why())
    else:
        R.fail("submitPledge", "no campaign to pledge to")

    g = gql("""query Inbox { notifications(first: 20) { totalCount edges { node { id kind read createdAt } } }
                unreadNotificationCount }""", token=token)
    n = g.get("notifications", "totalCount")
    R.check(f"notifications: {n} in her inbox, {g.get('unreadNotificationCount')} unread",
            g.ok() and isinstance(n, int) and len(edges(g.get("notifications"))) == min(n, 20)
            and isinstance(g.get("unreadNotificationCount"), int) and g.get("unreadNotificationCount") <= n, g.why())

    # The session: refresh, then end it.
    g = gql("""mutation Refresh($r: String!) { refreshSession(refreshToken: $r) {
                accessToken refreshToken person { id } } }""", {"r": refresh})
    new = g.get("refreshSession") or {}
    R.check("refreshSession gives a new pair",
            g.ok() and new.get("accessToken") and new.get("refreshToken")
            and new.get("accessToken") != token and new.get("refreshToken") != refresh, g.why())
    if not new.get("accessToken"):
        sessions.append(token)
        return
    g = gql("query Me { me { id } }", token=new["accessToken"])
    R.check("the new access token works", g.ok() and g.get("me", "id") == auth["person"]["id"], g.why())
    g = gql("mutation Logout { logout }", token=new["accessToken"])
    R.check("logout", g.ok() and g.get("logout") is True, g.why())
    g = gql("query Me { me { id } }", token=new["accessToken"])
    R.check("after logout her access token is refused (UNAUTHENTICATED)",
            g.code() == "UNAUTHENTICATED" and not (g.data or {}).get("me"), g.why())
    g = gql("query Me { me { id } }", token=token)
    R.check("after logout the access token from before the refresh is refused (UNAUTHENTICATED)",
            g.code() == "UNAUTHENTICATED" and not (g.data or {}).get("me"), g.why())
    g = gql("mutation Refresh($r: String!) { refreshSession(refreshToken: $r) { accessToken } }",
            {"r": new["refreshToken"]})
    R.check("after logout her refresh token is refused (UNAUTHENTICATED)",
            g.code() == "UNAUTHENTICATED" and not (g.data or {}).get("refreshSession"), g.why())


# ----------------------------------------------------------------------------------------------
# 2. A new member


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def code_from_log(path, phone_local, since_offset, timeout=20.0):
    """The last six-digit code the development SMS sender logged for `phone_local` after byte
    `since_offset` of the log, waiting for it up to `timeout` seconds."""
    forms = [phone_local, "+84" + phone_local[1:], "84" + phone_local[1:]]
    deadline = time.time() + timeout
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(since_offset)
                text = ANSI.sub("", f.read().decode("utf-8", "replace"))
        except OSError as e:
            return None, f"cannot read the server log: {e.__class__.__name__}"
        found = None
        for line in text.splitlines():
            positions = [line.find(p) for p in forms if p in line]
            if not positions:
                continue
            tail = line[min(positions):]
            m = re.search(r"(?:\bla|\bis)\s+(\d{6})(?!\d)", tail) or re.search(r"(?<!\d)(\d{6})(?!\d)", tail)
            if m:
                found = m.group(1)
        if found:
            return found, None
        if time.time() > deadline:
            return None, "no six-digit code for the number in the server log"
        time.sleep(0.5)


def new_member(args, sessions):
    """Registers a new member and asks to join the branch; her session and request id."""
    g = gql("query Notice { privacyNotice { version } }")
    version = g.get("privacyNotice", "version")
    R.check("privacyNotice answers its version", g.ok() and version, g.why())

    phone = "098" + "".join(random.choice("0123456789") for _ in range(7))
    since = 0
    if args.server_log:
        try:
            with open(args.server_log, "rb") as f:
                f.seek(0, 2)
                since = f.tell()
        except OSError:
            since = 0
    g = gql("""mutation Code($p: String!) { requestPhoneCode(phone: $p, purpose: REGISTER) { expiresAt resendAfter } }""",
            {"p": phone})
    if not R.check("requestPhoneCode(REGISTER) for a fresh number", g.ok() and g.get("requestPhoneCode", "expiresAt"),
                   g.why()):
        return None
    if not args.server_log:
        R.fail("the code from the server log", "no --server-log given")
        return None
    code, why = code_from_log(args.server_log, phone, since)
    if not R.check("the six-digit code is in the server log", code, why or ""):
        return None
    g = gql("""mutation Verify($p: String!, $c: String!) { verifyPhoneCode(phone: $p, purpose: REGISTER, code: $c) {
                verificationToken expiresAt } }""", {"p": phone, "c": code})
    vt = g.get("verifyPhoneCode", "verificationToken")
    if not R.check("verifyPhoneCode answers a verification token", g.ok() and vt, g.why()):
        return None
    password = "Thu-" + uuid.uuid4().hex[:12] + "-x9"
    g = gql("""mutation Register($i: RegisterInput!) { register(input: $i) {
                accessToken refreshToken person { id phoneVerified membership { id } } } }""",
            {"i": {"phone": phone, "fullName": "Nguyễn Thị Thử", "password": password,
                   "verificationToken": vt, "privacyNoticeVersion": version,
                   "device": {"label": "tryout", "platform": "ANDROID"}}})
    reg = g.get("register") or {}
    if not R.check("register signs her in (phone verified, no membership yet)",
                   g.ok() and reg.get("accessToken") and (reg.get("person") or {}).get("phoneVerified") is True
                   and (reg.get("person") or {}).get("membership") is None, g.why()):
        return None
    token = reg["accessToken"]
    sessions.append(token)

    g = gql("""query Branch($c: String!) { orgUnit(code: $c) { id code kind parent { code } } }""", {"c": BRANCH}, token)
    branch = g.get("orgUnit") or {}
    R.check(f"she finds branch {BRANCH} (a BRANCH of {WARD})",
            g.ok() and branch.get("kind") == "BRANCH" and (branch.get("parent") or {}).get("code") == WARD, g.why())
    if not branch.get("id"):
        return None
    g = gql("""mutation Join($i: RequestMembershipInput!) { requestMembership(input: $i) {
                id kind status branch { code } } }""",
            {"i": {"branchId": branch["id"], "note": "Xin gia nhập chi hội"}}, token)
    req = g.get("requestMembership") or {}
    R.check(f"requestMembership to {BRANCH}: a PENDING JOIN request",
            g.ok() and req.get("status") == "PENDING" and req.get("kind") == "JOIN"
            and (req.get("branch") or {}).get("code") == BRANCH, g.why())
    g = gql("query MyRequests { myMembershipRequests { id status } }", token=token)
    R.check("myMembershipRequests shows it PENDING",
            g.ok() and any(r.get("id") == req.get("id") and r.get("status") == "PENDING"
                           for r in g.get("myMembershipRequests") or []), g.why())
    return {"token": token, "request": req.get("id"), "branch": branch["id"]}


# ----------------------------------------------------------------------------------------------
# 3. The officers' console


def officer_console(newbie, sessions):
    auth = login(BRANCH_LEADER, what=f"branch leader {BRANCH_LEADER} signs in")
    if not auth:
        return
    token = auth["accessToken"]
    sessions.append(token)
    if newbie and newbie.get("request"):
        g = gql("""query Requests($u: ID!) { membershipRequests(filter: {unitId: $u, status: PENDING}, first: 100) {
                    totalCount edges { node { id kind status branch { code } } } } }""",
                {"u": newbie["branch"]}, token)
        listed = [r for r in edges(g.get("membershipRequests")) if r.get("id") == newbie["request"]]
        R.check(f"membershipRequests: the leader sees the request among {g.get('membershipRequests', 'totalCount')} pending",
                g.ok() and len(listed) == 1, g.why())
        g = gql("""mutation Approve($id: ID!) { approveMembershipRequest(id: $id) { id status decidedAt } }""",
                {"id": newbie["request"]}, token)
        R.check("approveMembershipRequest: APPROVED",
                g.ok() and g.get("approveMembershipRequest", "status") == "APPROVED", g.why())
        g = gql("""query Mine { me { membership { id memberNumber status branch { code } } }
                    notifications(first: 10) { edges { node { kind } } } }""", token=newbie["token"])
        ms = g.get("me", "membership") or {}
        R.check(f"the new member is ACTIVE at {BRANCH} with a member number",
                g.ok() and ms.get("status") == "ACTIVE" and (ms.get("branch") or {}).get("code") == BRANCH
                and re.fullmatch(r"HN\d+", ms.get("memberNumber") or ""), g.why())
        kinds = [n.get("kind") for n in edges(g.get("notifications"))]
        R.check("the new member is notified (REQUEST_APPROVED)", "REQUEST_APPROVED" in kinds, excerpt(kinds))
        g = gql("""query Members($u: ID!) { members(filter: {unitId: $u}, order: JOINED_NEWEST, first: 50) {
                    totalCount edges { node { id memberNumber status branch { code } } } } }""",
                {"u": newbie["branch"]}, token)
        found = [m for m in edges(g.get("members")) if m.get("id") == ms.get("id")]
        R.check(f"members of {BRANCH} ({g.get('members', 'totalCount')}) list the new member, ACTIVE",
                g.ok() and len(found) == 1 and found[0].get("status") == "ACTIVE", g.why())
    else:
        R.fail("approve the new member's join request", "no request (the registration above failed)")

    g = gql(UNIT_TREE, token=token, operation_name="UnitTree")
    check_tree(g, "the unit tree (orgUnit HN, children, grandchildren) answers the officer")

    # A unit officer of the district sees the same branch's directory.
    auth = login(UNIT_OFFICER, what=f"unit officer {UNIT_OFFICER} signs in")
    if auth:
        sessions.append(auth["accessToken"])
        bid, _ = unit_id(BRANCH, auth["accessToken"])
        g = gql("""query Members($u: ID!) { members(filter: {unitId: $u}, first: 5) { totalCount } }""",
                {"u": bid}, auth["accessToken"])
        R.check(f"the unit officer reads the directory of {BRANCH} ({g.get('members', 'totalCount')} members)",
                g.ok() and isinstance(g.get("members", "totalCount"), int) and g.get("members", "totalCount") >= 2,
                g.why())


def check_tree(g, what):
    root = g.get("orgUnit") or {}
    districts = edges(root.get("children"))
    wards = {d.get("code"): edges(d.get("children")) for d in districts}
    lb = wards.get(DISTRICT) or []
    ok = (g.ok() and root.get("code") == "HN" and root.get("kind") == "CITY" and len(districts) == 6
          and all(d.get("kind") == "DISTRICT" for d in districts)
          and all(4 <= len(w) <= 5 for w in wards.values())
          and any(w.get("code") == WARD for w in lb))
    R.check(f"{what}: {len(districts)} districts, {sum(len(w) for w in wards.values())} wards", ok, g.why())
    return ok


# ----------------------------------------------------------------------------------------------
# 4. A domestic-violence concern


def violence(sessions):
    ward_id, g = unit_id(WARD)
    if not R.check(f"{WARD} is found (anonymously)", ward_id, g.why()):
        return
    report = {
        "unitId": ward_id,
        "affected": "SELF",
        "ageGroup": "ADULT",
        "kinds": ["PSYCHOLOGICAL", "ECONOMIC"],
        "immediateDanger": False,
        "childrenInvolved": False,
        "description": "Thử nghiệm hệ thống (try-out script): không phải một trường hợp thật.",
        "contact": {"safeTimes": "sáng thứ bảy", "channel": "IN_APP"},
        "mayContact": True,
        "mayShareWithAuthorities": False,
        "idempotencyKey": "tryout-" + str(uuid.uuid4()),
    }
    submit = """mutation Submit($i: ViolenceReportInput!) { submitViolenceReport(input: $i) {
                  referenceCode pin status submittedAt } }"""
    g = gql(submit, {"i": report})
    receipt = g.get("submitViolenceReport") or {}
    ref, pin = receipt.get("referenceCode"), receipt.get("pin")
    if not R.check(f"submitViolenceReport anonymously: reference {ref}, an 8-digit PIN, SUBMITTED",
                   g.ok() and re.fullmatch(r"BL-[0-9A-Z]{8}", ref or "") and re.fullmatch(r"\d{8}", pin or "")
                   and receipt.get("status") == "SUBMITTED", g.why()):
        return
    g = gql(submit, {"i": report})
    again = g.get("submitViolenceReport") or {}
    R.check("the same submission sent again is the same report and PIN",
            g.ok() and again.get("referenceCode") == ref and again.get("pin") == pin, g.why())

    auth = login(CASE_OFFICER, what=f"case officer {CASE_OFFICER} signs in")
    if not auth:
        return
    token = auth["accessToken"]
    sessions.append(token)
    g = gql("""query Queue { violenceReports(filter: {status: SUBMITTED}, order: NEWEST_FIRST, first: 50) {
                totalCount edges { node { id referenceCode status urgent unit { code } handlingUnit { code } } } } }""",
            token=token)
    mine = [r for r in edges(g.get("violenceReports")) if r.get("referenceCode") == ref]
    R.check(f"violenceReports: the case officer sees it among {g.get('violenceReports', 'totalCount')} unacknowledged",
            g.ok() and len(mine) == 1 and (mine[0].get("unit") or {}).get("code") == WARD
            and mine[0].get("status") == "SUBMITTED", g.why())
    if not mine:
        return
    rid = mine[0]["id"]
    g = gql("query Inbox { notifications(first: 20) { edges { node { kind } } } }", token=token)
    kinds = [n.get("kind") for n in edges(g.get("notifications"))]
    R.check("the case officer is notified (VIOLENCE_REPORT_RECEIVED)", "VIOLENCE_REPORT_RECEIVED" in kinds,
            excerpt(kinds))

    g = gql("""mutation Ack($id: ID!) { acknowledgeViolenceReport(id: $id) { id referenceCode status version } }""",
            {"id": rid}, token)
    R.check("acknowledgeViolenceReport: ACKNOWLEDGED",
            g.ok() and g.get("acknowledgeViolenceReport", "status") == "ACKNOWLEDGED"
            and g.get("acknowledgeViolenceReport", "referenceCode") == ref, g.why())

    # Nobody but the case officers reads it: the branch leader gets NOT_FOUND.
    leader = login(BRANCH_LEADER, what="branch leader signs in (to try to open the report)")
    if leader:
        sessions.append(leader["accessToken"])
        g = gql("query Report($id: ID!) { violenceReport(id: $id) { id status } }", {"id": rid}, leader["accessToken"])
        R.check("the branch leader cannot open the report (NOT_FOUND)",
                g.code() == "NOT_FOUND" and not (g.data or {}).get("violenceReport"), g.why())

    by_ref = """query Follow($c: String!, $p: String!) { violenceReportByReference(code: $c, pin: $p) {
                  referenceCode status timeline { kind actorRole toStatus } } }"""
    g = gql(by_ref, {"c": ref, "p": pin})
    R.check("violenceReportByReference: the reporter sees it ACKNOWLEDGED",
            g.ok() and g.get("violenceReportByReference", "status") == "ACKNOWLEDGED"
            and g.get("violenceReportByReference", "referenceCode") == ref, g.why())
    wrong = "%08d" % ((int(pin) + 1) % 100000000)
    g = gql(by_ref, {"c": ref, "p": wrong})
    R.check("violenceReportByReference with a wrong PIN: NOT_FOUND",
            g.code() == "NOT_FOUND" and not (g.data or {}).get("violenceReportByReference"), g.why())

    # Queries about violence reports are never compressed (BREACH), however large.
    tree_and_reports = UNIT_TREE.replace("query UnitTree {", "query TreeAndReports {\n  violenceReports(first: 5) { edges { node { referenceCode status } } }", 1)
    r = H.request("POST", "/graphql", json.dumps({"query": tree_and_reports}).encode(),
                  {"Content-Type": "application/json", "Accept": GRAPHQL_ACCEPT,
                   "Authorization": f"Bearer {token}", "Accept-Encoding": "gzip, br"})
    body = r.json() or {}
    R.check(f"a query selecting violence reports is not compressed ({len(r.body)} bytes)",
            r.status == 200 and r.header("Content-Encoding") in (None, "identity") and not body.get("errors")
            and len(r.body) >= 1024, f"HTTP {r.status}, Content-Encoding {r.header('Content-Encoding')}, {len(r.body)} bytes")


# ----------------------------------------------------------------------------------------------
# 4b. Member content: her notification choices, a photo with GPS, a story, her branch leader reads,
#     comments and reacts


GPS_SECONDS = struct.pack("<II", 4567, 100)  # 45.67 seconds of latitude, as a camera writes it


def png_with_gps(width=48, height=32):
    """A PNG whose eXIf chunk holds a GPS position (21°1'45.67" N, 105°51'12.34" E) and the
    orientation 6 (turn 90° to show): what a phone's photo tells about where it was taken."""
    def entry(tag, kind, count, value):
        return struct.pack("<HHII", tag, kind, count, value)
    gps_ifd = 8 + 2 + 2 * 12 + 4
    data = gps_ifd + 2 + 4 * 12 + 4
    t = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 2)
    t += entry(0x0112, 3, 1, 6) + entry(0x8825, 4, 1, gps_ifd) + struct.pack("<I", 0)
    t += struct.pack("<H", 4)
    t += entry(0x0001, 2, 2, struct.unpack("<I", b"N\0\0\0")[0]) + entry(0x0002, 5, 3, data)
    t += entry(0x0003, 2, 2, struct.unpack("<I", b"E\0\0\0")[0]) + entry(0x0004, 5, 3, data + 24)
    t += struct.pack("<I", 0)
    for num, den in [(21, 1), (1, 1), (4567, 100), (105, 1), (51, 1), (1234, 100)]:
        t += struct.pack("<II", num, den)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + b"".join(bytes((x * 5 % 256, y * 7 % 256, 128)) for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"eXIf", t) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload(query, file_bytes, filename, mime, token):
    boundary = "tryout" + uuid.uuid4().hex
    parts = []
    def field(name, value, extra=""):
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n".encode())
    field("operations", None)
    parts.append(b"\r\n" + json.dumps({"query": query, "variables": {"file": None}}).encode() + b"\r\n")
    field("map", None)
    parts.append(b"\r\n" + json.dumps({"0": ["variables.file"]}).encode() + b"\r\n")
    field("0", None, f"; filename=\"{filename}\"\r\nContent-Type: {mime}")
    parts.append(b"\r\n" + file_bytes + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    h = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": GRAPHQL_ACCEPT,
         "Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    return Gql(H.request("POST", "/graphql", b"".join(parts), h))


def fetch(url):
    if url.startswith("/"):
        return H.request("GET", url)
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = conn.getresponse()
        return Resp(r.status, r.headers, r.read())
    finally:
        conn.close()


def member_content(sessions):
    auth = login(MEMBER, what=f"branch member {MEMBER} signs in for her story")
    leader_auth = login(BRANCH_LEADER, what=f"branch leader {BRANCH_LEADER} signs in")
    if not auth or not leader_auth:
        return
    token, leader = auth["accessToken"], leader_auth["accessToken"]
    sessions.extend([token, leader])

    # Her notification choices: campaign notices in the inbox only.
    g = gql("mutation Pref { setNotificationPreference(topic: CAMPAIGNS, level: INBOX) { topic level } }", token=token)
    R.check("member keeps campaign notices in her inbox only", g.get("setNotificationPreference", "level") == "INBOX", g.why())
    g = gql("query Prefs { notificationPreferences { topic level } }", token=token)
    prefs = {p["topic"]: p["level"] for p in (g.get("notificationPreferences") or [])}
    R.check("her preferences list every topic", prefs.get("CAMPAIGNS") == "INBOX" and prefs.get("VIOLENCE_REPORTS") == "ALL"
            and len(prefs) == 5, g.why())

    # A photo from her phone, with where it was taken in it.
    original = png_with_gps()
    R.check("the test photo carries GPS (sanity)", GPS_SECONDS in original)
    up = upload("mutation Up($file: Upload!) { uploadPhoto(file: $file) { id width height url } }",
                original, "IMG_2026.png", "image/png", token)
    photo = up.get("uploadPhoto") or {}
    R.check("member uploads a photo", up.ok() and photo.get("id"), up.why())
    if photo.get("url"):
        r = fetch(photo["url"])
        R.check("the stored photo is a JPEG without GPS or EXIF", r.status == 200 and r.body[:3] == b"\xff\xd8\xff"
                and GPS_SECONDS not in r.body and b"Exif" not in r.body, f"HTTP {r.status}, {len(r.body)} bytes")
    fake = upload("mutation Up($file: Upload!) { uploadPhoto(file: $file) { id } }", b"#!/bin/sh\necho hi\n",
                  "photo.jpg", "image/jpeg", token)
    R.check("a script named photo.jpg is refused", fake.code() == "BAD_USER_INPUT" and fake.reason() == "UNSUPPORTED_TYPE", fake.why())

    # Her story, to her branch, with the photo.
    g = gql("mutation Story($i: StoryInput!) { postStory(input: $i) { id status unit { code } photos { id } } }",
            {"i": {"body": "Nhà em phân loại rác tại nguồn, thực hiện \"5 không 3 sạch\".", "photoIds": [photo.get("id")]}},
            token=token)
    story = g.get("postStory") or {}
    R.check("member posts a story with her photo to her branch", g.ok() and story.get("status") == "PUBLISHED"
            and len(story.get("photos") or []) == 1, g.why())

    # Her branch leader reads it in the console, comments and applauds.
    branch, _ = unit_id("HN-LB-BD-01", leader)
    g = gql("query Stories($u: ID) { stories(unitId: $u, first: 10) { edges { node { id body author { displayName } "
            "photos { url thumbnailUrl } engagement { commentCount } } } } }", {"u": branch}, token=leader)
    found = [s for s in edges(g.get("stories")) if s.get("id") == story.get("id")]
    R.check("the branch leader sees the story", g.ok() and len(found) == 1, g.why())
    if found and found[0].get("photos"):
        r = fetch(found[0]["photos"][0]["url"])
        R.check("the branch leader sees its photo", r.status == 200, f"HTTP {r.status}")
    g = gql("mutation C($t: ID!, $b: String!) { addComment(targetId: $t, body: $b) { id status } }",
            {"t": story.get("id"), "b": "Chi hội mình tuyên dương gia đình em!"}, token=leader)
    R.check("the branch leader comments on it", g.get("addComment", "status") == "PUBLISHED", g.why())
    g = gql("mutation R($t: ID!) { react(targetId: $t, kind: CLAP) { myReaction reactions { kind count } } }",
            {"t": story.get("id")}, token=leader)
    R.check("the branch leader applauds it", g.get("react", "myReaction") == "CLAP", g.why())
    g = gql("query Th($t: ID!) { comments(targetId: $t) { totalCount edges { node { body author { displayName } } } } }",
            {"t": story.get("id")}, token=token)
    R.check("member reads the comment on her story", g.get("comments", "totalCount") == 1, g.why())
    # Someone outside her branch and above it cannot see it at all.
    outsider = login("0900000006", what="a member without a branch signs in")
    if outsider:
        sessions.append(outsider["accessToken"])
        g = gql("query N($id: ID!) { node(id: $id) { id } }", {"id": story.get("id")}, token=outsider["accessToken"])
        R.check("someone outside the branch cannot read the story", g.code() == "NOT_FOUND", g.why())

    moderation(token, leader, sessions)


CASE_FIELDS = "id cause status contentKind text contentStatus decision reason canAppeal unit { code }"


def moderation(token, leader, sessions):
    """Her branch leader moderates: stories wait for her, a comment with a phone number is held,
    she hides it with a reason, the member appeals, and the district decides the appeal."""
    branch, _ = unit_id(BRANCH, leader)
    g = gql("mutation S($u: ID!) { setContentSettings(unitId: $u, input: { storyPremoderation: true }) "
            "{ flagThreshold storyPremoderation } }", {"u": branch}, token=leader)
    R.check("the branch leader has her branch's stories checked first",
            g.get("setContentSettings", "storyPremoderation") is True, g.why())
    up = upload("mutation Up($file: Upload!) { uploadPhoto(file: $file) { id } }", png_with_gps(32, 24),
                "IMG_2027.png", "image/png", token)
    g = gql("mutation Story($i: StoryInput!) { postStory(input: $i) { id status publishedAt } }",
            {"i": {"body": "Buổi sinh hoạt chi hội: chị em cùng gói bánh chưng tặng hộ nghèo.",
                   "photoIds": [up.get("uploadPhoto", "id")]}}, token=token)
    story = g.get("postStory") or {}
    R.check("her new story waits for the branch leader", story.get("status") == "PENDING"
            and story.get("publishedAt") is None, g.why())
    g = gql("query Q($u: ID) { moderationQueue(unitId: $u, first: 20) { totalCount edges { node { %s story { id } } } } }"
            % CASE_FIELDS, {"u": branch}, token=leader)
    queued = [c for c in edges(g.get("moderationQueue")) if (c.get("story") or {}).get("id") == story.get("id")]
    R.check("the branch leader finds it in her moderation queue", len(queued) == 1
            and queued[0].get("cause") == "PREMODERATION", g.why())
    if queued:
        g = gql("mutation D($ids: [ID!]!) { decideModeration(caseIds: $ids, decision: { action: APPROVE }) "
                "{ ok item { decision contentStatus } } }", {"ids": [queued[0]["id"]]}, token=leader)
        out = (g.get("decideModeration") or [{}])[0]
        R.check("she approves it and it is published", out.get("ok") is True
                and (out.get("item") or {}).get("contentStatus") == "PUBLISHED", g.why())
    g = gql("mutation S($u: ID!) { setContentSettings(unitId: $u, input: { storyPremoderation: null }) "
            "{ storyPremoderation } }", {"u": branch}, token=leader)
    R.check("and turns pre-moderation off again", g.get("setContentSettings", "storyPremoderation") is False, g.why())

    # A comment with her phone number in it is held before anyone sees it.
    g = gql("mutation C($t: ID!, $b: String!) { addComment(targetId: $t, body: $b) { id status } }",
            {"t": story.get("id"), "b": "Chị nào cần lá dong gọi em 0912 345 678 nhé"}, token=token)
    held = g.get("addComment") or {}
    R.check("a comment with a phone number is held for a moderator", held.get("status") == "PENDING", g.why())
    g = gql("query Q($u: ID) { moderationQueue(unitId: $u, cause: PERSONAL_DATA) { edges { node { %s comment { id } } } } }"
            % CASE_FIELDS, {"u": branch}, token=leader)
    case = next((c for c in edges(g.get("moderationQueue")) if (c.get("comment") or {}).get("id") == held.get("id")), None)
    R.check("the branch leader sees why it was held", case is not None, g.why())
    if not case:
        return
    reason = "Bình luận có số điện thoại; hãy nhắn riêng cho nhau."
    g = gql("mutation D($ids: [ID!]!, $r: String) { decideModeration(caseIds: $ids, decision: { action: HIDE, reason: $r }) "
            "{ ok item { decision } } }", {"ids": [case["id"]], "r": reason}, token=leader)
    R.check("she hides it with a reason", ((g.get("decideModeration") or [{}])[0].get("item") or {}).get("decision") == "HIDDEN",
            g.why())
    g = gql("query Mine { myModerationCases(first: 10) { edges { node { %s } } } }" % CASE_FIELDS, token=token)
    mine = next((c for c in edges(g.get("myModerationCases")) if c.get("id") == case["id"]), {})
    R.check("the member reads the decision, its reason, and that she may appeal", mine.get("decision") == "HIDDEN"
            and mine.get("reason") == reason and mine.get("canAppeal") is True, g.why())
    g = gql("mutation A($c: ID!, $s: String!) { appealModeration(caseId: $c, statement: $s) { %s } }" % CASE_FIELDS,
            {"c": case["id"], "s": "Em chỉ muốn giúp các chị mua lá dong."}, token=token)
    appeal = g.get("appealModeration") or {}
    R.check("she appeals, and the appeal goes to the ward", appeal.get("cause") == "APPEAL"
            and (appeal.get("unit") or {}).get("code") == WARD, g.why())
    officer = login(UNIT_OFFICER, what=f"district officer {UNIT_OFFICER} signs in for the appeal")
    if not officer or not appeal.get("id"):
        return
    sessions.append(officer["accessToken"])
    g = gql("mutation D($ids: [ID!]!) { decideModeration(caseIds: $ids, decision: { action: HIDE, reason: \"Giữ quyết định: "
            "không đăng số điện thoại công khai.\" }) { ok item { decision } } }", {"ids": [appeal["id"]]},
            token=officer["accessToken"])
    R.check("the district reviews the appeal and keeps the decision",
            ((g.get("decideModeration") or [{}])[0].get("item") or {}).get("decision") == "HIDDEN", g.why())



# ----------------------------------------------------------------------------------------------
# 4c. The union's year: a ward rates itself, the district confirms and sees the share against its
#     target; last year's awards; a nomination decided; two communes merged


def union_year(sessions):
    year = hanoi_now().year
    ward_auth = login(WARD_OFFICER, what=f"ward officer {WARD_OFFICER} signs in")
    district_auth = login(UNIT_OFFICER, what=f"district officer {UNIT_OFFICER} signs in")
    if not ward_auth or not district_auth:
        return
    ward, district = ward_auth["accessToken"], district_auth["accessToken"]
    sessions.extend([ward, district])
    wid, _ = unit_id(WARD, ward)
    did, _ = unit_id(DISTRICT, district)

    # The ward officer reads what Long Biên asks of its wards this year and submits her ward's.
    g = gql("""query Criteria($u: ID!, $y: Int!) { ratingCriteria(unitId: $u, year: $y) { id title maxScore } }""",
            {"u": wid, "y": year}, ward)
    criteria = g.get("ratingCriteria") or []
    R.check(f"ratingCriteria: {len(criteria)} criteria set by the district for {year}", g.ok() and len(criteria) >= 1, g.why())
    scores = [{"criterionId": c["id"], "score": c["maxScore"] * 9 // 10, "evidence": "Báo cáo tổng kết năm"} for c in criteria]
    g = gql("""mutation Save($u: ID!, $y: Int!, $i: UnitRatingInput!) { saveUnitRating(unitId: $u, year: $y, input: $i) {
                id status proposedRating totalScore maxScore } }""",
            {"u": wid, "y": year, "i": {"scores": scores, "proposedRating": "GOOD", "submit": True,
                                        "selfAssessment": "Hoàn thành tốt các chỉ tiêu của năm."}}, ward)
    rating = g.get("saveUnitRating") or {}
    R.check(f"saveUnitRating: SUBMITTED, {rating.get('totalScore')} of {rating.get('maxScore')} points",
            g.ok() and rating.get("status") == "SUBMITTED", g.why())

    # The district finds it waiting, confirms it, and its progress shows the share.
    g = gql("""query Waiting($u: ID!, $y: Int!) { unitRatings(unitId: $u, year: $y, status: SUBMITTED) {
                totalCount edges { node { id unit { code } } } } }""", {"u": did, "y": year}, district)
    waiting = [r for r in edges(g.get("unitRatings")) if r.get("id") == rating.get("id")]
    R.check("unitRatings: the district officer finds the ward's rating waiting", g.ok() and len(waiting) == 1, g.why())
    g = gql("""mutation Confirm($r: ID!) { confirmUnitRating(ratingId: $r, rating: GOOD) { status rating } }""",
            {"r": rating.get("id")}, district)
    R.check("confirmUnitRating: CONFIRMED, GOOD", g.ok() and g.get("confirmUnitRating", "status") == "CONFIRMED", g.why())
    g = gql("""query Progress($u: ID!, $y: Int!, $l: Int!) { now: targetProgress(unitId: $u, period: {year: $y}) {
                indicator { code } total { target actual reportingUnits } }
              then: targetProgress(unitId: $u, period: {year: $l}) { indicator { code } total { target actual reportingUnits } } }""",
            {"u": did, "y": year, "l": year - 1}, district)
    now = [p["total"] for p in (g.get("now") or []) if p.get("indicator", {}).get("code") == "BASES_RATED_GOOD"]
    then = [p["total"] for p in (g.get("then") or []) if p.get("indicator", {}).get("code") == "BASES_RATED_GOOD"]
    R.check(f"targetProgress of {DISTRICT}: bases rated good this year {now[0]['actual'] if now else None}% of target "
            f"{now[0]['target'] if now else None}%, last year {then[0]['actual'] if then else None}%",
            g.ok() and now and now[0]["actual"] == 100 and now[0]["reportingUnits"] == 1 and now[0]["target"] == 90
            and then and then[0]["actual"] == 80, g.why())
    g = gql("""query Inbox { notifications(first: 10) { edges { node { kind } } } }""", token=ward)
    R.check("the ward officer is told (RATING_CONFIRMED)",
            "RATING_CONFIRMED" in [n.get("kind") for n in edges(g.get("notifications"))], g.why())

    # Awards: on the ward's page for anyone, on the demo member's profile for her.
    g = gql("""query Page($c: String!) { orgUnit(code: $c) { awards { kind { name issuer } year decisionNumber } } }""",
            {"c": WARD})
    awards = g.get("orgUnit", "awards") or []
    R.check(f"the ward's page shows its award ({excerpt([a.get('kind', {}).get('name') for a in awards])})",
            g.ok() and len(awards) == 1, g.why())
    auth = login(MEMBER, what=f"member {MEMBER} signs in again")
    if auth:
        sessions.append(auth["accessToken"])
        g = gql("""query Mine { myAwards { kind { name } year decisionNumber } }""", token=auth["accessToken"])
        R.check("myAwards: the demo member's Giấy khen", g.ok() and len(g.get("myAwards") or []) == 1, g.why())
    g = gql("""query Waiting($u: ID!) { awardNominations(unitId: $u, status: PROPOSED) { totalCount edges { node { id unit { code } year } } } }""",
            {"u": did}, district)
    pending = edges(g.get("awardNominations"))
    R.check(f"awardNominations: {len(pending)} waiting for the district", g.ok() and len(pending) == 1, g.why())
    if pending:
        g = gql("""mutation Approve($n: ID!, $d: Date!) { approveNomination(nominationId: $n, decisionNumber: "30/QĐ-HPN", decisionDate: $d) {
                    status decisionNumber } }""", {"n": pending[0]["id"], "d": hanoi_now().date().isoformat()}, district)
        R.check("approveNomination: APPROVED with its decision number",
                g.ok() and g.get("approveNomination", "status") == "APPROVED", g.why())
    g = gql("""query Figures($u: ID!, $y: Int!) { awardStatistics(unitId: $u, year: $y) { collective individual women womenShare } }""",
            {"u": did, "y": year - 1}, district)
    figures = g.get("awardStatistics") or {}
    R.check(f"awardStatistics of {DISTRICT}, last year: {figures.get('collective')} collective, {figures.get('individual')} individual "
            f"({figures.get('women')} women)", g.ok() and figures.get("collective") == 3 and figures.get("individual") == 2, g.why())

    # Two communes of Thanh Trì merged by the city's admin: members and figures stay whole.
    auth = login(CITY_ADMIN, what=f"city admin {CITY_ADMIN} signs in")
    if not auth:
        return
    admin = auth["accessToken"]
    sessions.append(admin)
    src, _ = unit_id("HN-TTR-VQ", admin)
    into, _ = unit_id("HN-TTR-THI", admin)
    stats = """query S($u: ID!, $d: Date!) { memberStatistics(unitId: $u, from: $d, to: $d) { total { activeMembers } } }"""
    today = hanoi_now().date().isoformat()
    hn, _ = unit_id("HN", admin)
    before = gql(stats, {"u": hn, "d": today}, admin).get("memberStatistics", "total", "activeMembers")
    g = gql("""mutation Merge($s: [ID!]!, $i: ID!) { mergeOrgUnits(sourceIds: $s, intoId: $i) {
                into { code } sources { code status mergedInto { code } } childrenMoved } }""",
            {"s": [src], "i": into}, admin)
    merged = g.get("mergeOrgUnits") or {}
    R.check(f"mergeOrgUnits: HN-TTR-VQ MERGED into HN-TTR-THI, {merged.get('childrenMoved')} branches moved",
            g.ok() and (merged.get("sources") or [{}])[0].get("status") == "MERGED", g.why())
    g = gql("""query Old { orgUnit(code: "HN-TTR-VQ") { status mergedInto { code } } district: orgUnit(code: "HN-TTR") {
                children(first: 20) { edges { node { code } } } } }""")
    kids = [c.get("code") for c in edges(g.get("district", "children"))]
    R.check("the old code still resolves (MERGED, into HN-TTR-THI) and the district lists 3 communes",
            g.ok() and g.get("orgUnit", "mergedInto", "code") == "HN-TTR-THI" and "HN-TTR-VQ" not in kids and len(kids) == 3,
            g.why())
    after = gql(stats, {"u": hn, "d": today}, admin).get("memberStatistics", "total", "activeMembers")
    R.check(f"the city's active members are the same before and after ({before} and {after})", before == after and before is not None)


# ----------------------------------------------------------------------------------------------
# 5. A partner system


def partner(sessions):
    auth = login(SYSADMIN, what=f"system administrator {SYSADMIN} signs in")
    if not auth:
        return
    token = auth["accessToken"]
    sessions.append(token)
    lb_id, g = unit_id(DISTRICT, token)
    if not R.check(f"{DISTRICT} is found", lb_id, g.why()):
        return
    g = gql("""mutation RegisterClient($i: RegisterIntegrationClientInput!) { registerIntegrationClient(input: $i) {
                client { id clientId scopes unit { code } } clientSecret } }""",
            {"i": {"name": "Try-out dashboard " + uuid.uuid4().hex[:6], "contact": "tryout@example.vn",
                   "unitId": lb_id, "scopes": ["STATISTICS_READ", "CAMPAIGNS_READ"]}}, token)
    reg = g.get("registerIntegrationClient") or {}
    client = reg.get("client") or {}
    if not R.check(f"registerIntegrationClient for {DISTRICT} with STATISTICS_READ, CAMPAIGNS_READ",
                   g.ok() and client.get("clientId") and reg.get("clientSecret")
                   and sorted(client.get("scopes") or []) == ["CAMPAIGNS_READ", "STATISTICS_READ"]
                   and (client.get("unit") or {}).get("code") == DISTRICT, g.why()):
        return
    cid, secret = client["clientId"], reg["clientSecret"]

    def token_request(user, password):
        basic = base64.b64encode(
            f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}".encode()).decode()
        return H.request("POST", "/oauth/token", b"grant_type=client_credentials",
                         {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                          "Authorization": f"Basic {basic}"})

    r = token_request(cid, secret)
    tok = r.json() or {}
    scopes = set((tok.get("scope") or "").split())
    if not R.check("POST /oauth/token (client_credentials, HTTP Basic): a Bearer token with both scopes",
                   r.status == 200 and tok.get("access_token") and (tok.get("token_type") or "").lower() == "bearer"
                   and scopes == {"statistics:read", "campaigns:read"} and isinstance(tok.get("expires_in"), int),
                   f"HTTP {r.status}, {excerpt({k: v for k, v in tok.items() if k != 'access_token'})}"):
        return
    ctoken = tok["access_token"]
    r = token_request(cid, secret[:-2] + ("xy" if not secret.endswith("xy") else "zz"))
    err = r.json() or {}
    R.check("POST /oauth/token with a wrong secret: 401 invalid_client",
            r.status == 401 and err.get("error") == "invalid_client" and r.header("WWW-Authenticate"),
            f"HTTP {r.status}, {excerpt(err)}")

    month_start = hanoi_now().date().replace(day=1)
    prev = (month_start - datetime.timedelta(days=1)).strftime("%Y-%m")
    g = gql("""query Stats($u: ID!, $m: String!) { publicStatistics(unitId: $u, month: $m) {
                month suppressionThreshold
                total { unit { code } activeMembers { value suppressed } newMembers { value suppressed }
                        leavers { value suppressed } trainingsHeld { value suppressed } attendances { value suppressed } }
                children { unit { code } newMembers { value suppressed } } } }""",
            {"u": lb_id, "m": prev}, ctoken)
    ps = g.get("publicStatistics") or {}
    am = ((ps.get("total") or {}).get("activeMembers") or {})
    k = ps.get("suppressionThreshold")
    children = [(c.get("unit") or {}).get("code") for c in ps.get("children") or []]
    R.check(f"publicStatistics({DISTRICT}, {prev}) with the client's token: {len(children)} wards, "
            f"active members {am.get('value') if not am.get('suppressed') else 'suppressed'}",
            g.ok() and ps.get("month") == prev and (ps.get("total") or {}).get("unit", {}).get("code") == DISTRICT
            and WARD in children and isinstance(k, int)
            and (am.get("suppressed") or (isinstance(am.get("value"), int) and am["value"] % k == 0)), g.why())
    g = gql("""query Campaigns { campaigns(first: 20) { totalCount edges { node { id title status unit { code } criteria { position } } } } }""",
            token=ctoken)
    cs = edges(g.get("campaigns"))
    R.check(f"campaigns with the client's token: {g.get('campaigns', 'totalCount')} running or ended in {DISTRICT}",
            g.ok() and isinstance(g.get("campaigns", "totalCount"), int)
            and all(c.get("status") in ("ACTIVE", "ENDED") for c in cs), g.why())
    g = gql("query Directory { members(first: 5) { totalCount } }", token=ctoken)
    R.check("the client cannot read the member directory (FORBIDDEN)",
            g.code() == "FORBIDDEN" and not g.data, g.why())
    g = gql('query Unit { orgUnit(code: "HN-LB") { id name } }', token=ctoken)
    R.check("the client without units:read cannot read the tree (FORBIDDEN SCOPE_REQUIRED)",
            g.code() == "FORBIDDEN" and g.reason() == "SCOPE_REQUIRED", g.why())


# ----------------------------------------------------------------------------------------------
# 6. The HTTP surface


def http_surface(args):
    body = json.dumps({"query": UNIT_TREE, "operationName": "UnitTree"}).encode()
    base = {"Content-Type": "application/json", "Accept": GRAPHQL_ACCEPT}

    plain = H.request("POST", "/graphql", body, base)
    plain_json = plain.json() or {}
    R.check(f"the unit tree without Accept-Encoding: not compressed ({len(plain.body)} bytes)",
            plain.status == 200 and plain.header("Content-Encoding") in (None, "identity")
            and plain_json.get("data") and not plain_json.get("errors") and len(plain.body) >= 1024,
            f"HTTP {plain.status}, Content-Encoding {plain.header('Content-Encoding')}, {len(plain.body)} bytes")
    check_tree(Gql(plain), "the unit tree answers anonymously")

    r = H.request("POST", "/graphql", body, dict(base, **{"Accept-Encoding": "gzip"}))
    decoded = None
    try:
        decoded = json.loads(gzip.decompress(r.body)) if r.header("Content-Encoding") == "gzip" else None
    except Exception:
        decoded = None
    R.check(f"the unit tree with Accept-Encoding: gzip comes gzipped ({len(r.body)} bytes) and decodes",
            r.status == 200 and r.header("Content-Encoding") == "gzip" and decoded is not None
            and decoded.get("data") == plain_json.get("data") and len(r.body) < len(plain.body)
            and "accept-encoding" in (r.header("Vary") or "").lower(),
            f"HTTP {r.status}, Content-Encoding {r.header('Content-Encoding')}, Vary {r.header('Vary')}, "
            f"{len(r.body)} bytes, decoded {'equal' if decoded and decoded.get('data') == plain_json.get('data') else 'different or not'}")

    r = H.request("POST", "/graphql", body, dict(base, **{"Accept-Encoding": "br"}))
    R.check(f"the unit tree with Accept-Encoding: br comes as brotli ({len(r.body)} < {len(plain.body)} bytes)",
            r.status == 200 and r.header("Content-Encoding") == "br" and 0 < len(r.body) < len(plain.body),
            f"HTTP {r.status}, Content-Encoding {r.header('Content-Encoding')}, {len(r.body)} bytes")

    # GraphiQL
    r = H.request("GET", "/graphql", None, {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    html = r.body.decode("utf-8", "replace")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, re.I)
    external = [u for u in refs if re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", u, re.I)]
    csp = r.header("Content-Security-Policy") or ""
    graphiql = r.status == 200 and "text/html" in (r.header("Content-Type") or "") and "graphiql" in html.lower()
    R.check(f"GET /graphql (Accept: text/html) serves GraphiQL with a Content-Security-Policy, "
            f"{len(refs)} references, none to another origin",
            graphiql and csp and "default-src" in csp and not external and refs
            and "https://" not in " ".join(re.findall(r"<(?:script|link)\b[^>]*>", html, re.I)),
            f"HTTP {r.status}, Content-Type {r.header('Content-Type')}, CSP {'set' if csp else 'missing'}, "
            f"external {external[:3]}")
    bad = []
    for ref in refs:
        if ref.startswith("data:") or ref.startswith("#"):
            continue
        path = urllib.parse.urljoin("/graphql", ref)
        a = H.request("GET", path)
        if a.status != 200 or not a.body:
            bad.append(f"{path} HTTP {a.status}")
    R.check(f"the page's {len(refs)} files are served by the API itself", graphiql and not bad, excerpt(bad))

    r = H.request("GET", "/graphql?query=" + urllib.parse.quote("mutation { logout }"), None,
                  {"Accept": "application/json"})
    R.check("GET /graphql with a mutation: 405", r.status == 405, f"HTTP {r.status}")

    # Introspection: the full query of graphql-js 16.
    g = gql(introspection_query(), operation_name="IntrospectionQuery")
    schema = g.get("__schema") or {}
    types = schema.get("types") or []
    if g.ok():
        unit = next((t for t in types if t.get("name") == "OrgUnit"), {})
        anc = next((f for f in unit.get("fields") or [] if f.get("name") == "ancestors"), {})
        R.check(f"the full introspection query of graphql-js 16 answers ({len(types)} types)",
                (schema.get("queryType") or {}).get("name") == "QueryRoot"
                and (schema.get("mutationType") or {}).get("name") == "MutationRoot"
                and len(types) > 50 and (anc.get("type") or {}).get("kind") == "NON_NULL"
                and any(d.get("name") == "deprecated" for d in schema.get("directives") or []), g.why())
    elif not graphiql and g.code() == "GRAPHQL_VALIDATION_FAILED":
        R.ok("the introspection query is refused (GRAPHQL_VALIDATION_FAILED): introspection is off in this mode")
    else:
        R.fail("the full introspection query of graphql-js 16 answers", g.why())

    # Metrics
    r = H.request("GET", "/metrics")
    R.check(f"GET /metrics without the token is refused ({r.status})", r.status in (401, 403, 404), f"HTTP {r.status}")
    r = H.request("GET", "/metrics", None, {"Authorization": "Bearer not-the-token-" + "x" * 32})
    R.check(f"GET /metrics with a wrong token is refused ({r.status})", r.status in (401, 403, 404), f"HTTP {r.status}")
    if args.metrics_token:
        r = H.request("GET", "/metrics", None, {"Authorization": f"Bearer {args.metrics_token}"})
        text = r.body.decode("utf-8", "replace")
        series = ["phunu_http_responses_total", "phunu_graphql_operations_total", "phunu_graphql_errors_total",
                  "phunu_db_statements_total", "phunu_violence_reports_unacknowledged"]
        missing = [s for s in series if s not in text]
        ops = re.search(r'phunu_graphql_operations_total\{[^}]*operation="Home"[^}]*\}\s+(\d+)', text)
        R.check(f"GET /metrics with the token: Prometheus text with {len(series) - len(missing)} of the documented series",
                r.status == 200 and "text/plain" in (r.header("Content-Type") or "") and not missing,
                f"HTTP {r.status}, Content-Type {r.header('Content-Type')}, missing {missing}")
        R.check("the metrics count the Home queries of this run", ops and int(ops.group(1)) >= 1,
                "no phunu_graphql_operations_total sample for operation Home")
    else:
        R.ok("GET /metrics with the token: skipped (no --metrics-token)")


# ----------------------------------------------------------------------------------------------


def main():
    global H
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base_url")
    p.add_argument("--metrics-token", dest="metrics_token")
    p.add_argument("--server-log", dest="server_log")
    args = p.parse_args()
    H = Http(args.base_url)

    sessions = []
    sections = [
        ("probes", lambda: probes()),
        ("member app", lambda: member_app(sessions)),
        ("new member and officers' console", lambda: officer_console(new_member(args, sessions), sessions)),
        ("member content", lambda: member_content(sessions)),
        ("violence report", lambda: violence(sessions)),
        ("partner system", lambda: partner(sessions)),
        ("HTTP surface", lambda: http_surface(args)),
        # Last: it merges two communes, which changes the tree the sections above read.
        ("the union's year", lambda: union_year(sessions)),
    ]
    for name, run in sections:
        try:
            run()
        except (OSError, http.client.HTTPException) as e:
            R.fail(f"{name}: the server answers", f"{e.__class__.__name__}: {e}")
        except Exception as e:  # a bug of this script, or an answer of an unexpected shape
            where = traceback.extract_tb(e.__traceback__)[-1]
            R.fail(f"{name}: unexpected answer", f"{e.__class__.__name__} in {where.name}, line {where.lineno}")
    # Sign the officers' and the new member's sessions out again (not checks).
    for t in sessions:
        try:
            gql("mutation Logout { logout }", token=t)
        except Exception:
            pass
    print(f"{R.passes} passed, {R.failures} failed", flush=True)
    sys.exit(1 if R.failures else 0)


if __name__ == "__main__":
    main()
