#!/usr/bin/env python3
"""Writes N connections as CSV for COPY / .import: users u1..uN@scale.example
in org ORG_ID, each with its own access token sealed under the broker's
master key exactly as src/crypto.rs seals it (AES-256-GCM, the row bound in
as associated data), valid for a day, so the token API serves them without
calling Zoom. Usage: seed_connections.py N ORG_ID MASTER_KEY [PREFIX] > rows.csv
(PREFIX keeps the row ids and Zoom ids of several orgs' seeds apart.)"""
import base64, os, struct, sys, time
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

n, org_id, master = int(sys.argv[1]), sys.argv[2], sys.argv[3]
prefix = sys.argv[4] if len(sys.argv) > 4 else ""
kid, key = master.split(",")[0].split(":", 1) if ":" in master else ("default", master)
gcm = AESGCM(base64.b64decode(key))
now = int(time.time())

def aad(table, row, column):
    out = b"tokenbroker/aad/v1"
    for part in (table, row, column):
        b = part.encode()
        out += struct.pack(">I", len(b)) + b
    return out

def seal(row, column, text):
    nonce = os.urandom(12)
    blob = nonce + gcm.encrypt(nonce, text.encode(), aad("connections", row, column))
    return "tbx1.%s.%s" % (kid, base64.urlsafe_b64encode(blob).decode().rstrip("="))

out = sys.stdout
for i in range(1, n + 1):
    cid = "%sscale-%07d" % (prefix, i)
    access = seal(cid, "access_token", "scale-access-%d" % i)
    # The refresh token is never opened here (nothing is refreshed); any
    # non-empty value keeps the row a live grant.
    zu = f"{prefix}zu-{i}"
    out.write(f"{cid},{org_id},user,{zu},{zu},za-{prefix}scale,u{i}@scale.example,active,"
              f"meeting:read,{access},unused,{now + 86400},0,{now},{now},{now},{now},{now}\n")
