#!/usr/bin/env python3
"""Rebuilds the seed corpora in fuzz/corpus/ from the repository's own examples (and, when given,
the attack-review inputs): ./fuzz/make-seeds.py [ATTACK_INPUTS_DIR]

Seeds are small on purpose (JSON is minified; the larger published examples are left out of the
targets that do not need them). Files under fuzz/corpus/<target>/ that this script does not write
(for instance crash inputs added as regression seeds) are left alone."""

import base64
import json
import os
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"
examples = root / "tests" / "fixtures" / "crd-examples"
attack = Path(sys.argv[1]) if len(sys.argv) > 1 else None


def minified(path):
    return json.dumps(json.loads(path.read_text()), separators=(",", ":")).encode()


def put(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def attack_input(name):
    p = attack / name if attack else None
    return p.read_bytes() if p and p.exists() else None


requests = sorted(examples.glob("crd-*.json"))
small_requests = [p for p in requests if p.stat().st_size < 7000]

# request_validation: every published request body, plus shapes near the rules.
for p in requests:
    put("request_validation", p.name, minified(p))
put("request_validation", "empty-object.json", "{}")
put("request_validation", "wrong-types.json",
    '{"hook":"order-sign","hookInstance":5,"context":{"userId":[],"patientId":{},"draftOrders":"x"},"prefetch":[]}')
put("request_validation", "deep-prefetch.json",
    '{"hook":"order-sign","hookInstance":"d0a5e2a8-9bbf-4d4b-a2d6-8e3b7c1f0a11","context":{"userId":"Practitioner/1",'
    '"patientId":"p","draftOrders":{"resourceType":"Bundle","entry":[]}},"prefetch":{"c":' + "[" * 60 + "]" * 60 + "}}")

# json_document: small documents, numbers at the edges of double range, depth at the limit.
for p in small_requests[:4]:
    put("json_document", p.name, minified(p))
put("json_document", "crd-server.json", minified(root / "etc" / "crd-server.json"))
put("json_document", "numbers.json", "[0,-0,1e308,-1e308,1.7976931348623157e308,5e-324,-0.0,18446744073709551615,"
                                     "-9223372036854775808,123456789012345678901234567890,1E+2,0.1e-400]")
put("json_document", "depth-64.json", "[" * 64 + "]" * 64)
put("json_document", "depth-65.json", "[" * 65 + "]" * 65)
put("json_document", "strings.json", '{"a":"\\u00e9\\ud83d\\ude00\\n\\"","":"","k":{"k":{"k":null}}}')
for name in ("finding-0e1888888888-parses-as-NaN", "finding-infinity-serialised-as-invalid-json"):
    if (data := attack_input(name)) is not None:
        put("json_document", name, data)

# config_rules: the shipped configuration and rules, and a refused one.
put("config_rules", "crd-server.json", minified(root / "etc" / "crd-server.json"))
put("config_rules", "rules.json", minified(root / "etc" / "rules.json"))
put("config_rules", "bad-config.json", minified(root / "tests" / "data" / "bad-config.json"))
put("config_rules", "auth-clients.json", json.dumps({
    "public_base_url": "https://crd.example.org",
    "decision": {"url": "https://decision.example.org/v1/", "timeout_ms": 3000},
    "auth": {"required": True, "clients": [
        {"client_id": "ehr-1", "jwks_url": "https://ehr.example.org/jwks.json",
         "jku_allowlist": ["https://ehr.example.org/other.json"], "scope": "system/Coverage.read"},
        {"client_id": "tool", "secret_hash": "pbkdf2-sha256$210000$c2FsdA==$aGFzaA=="}]},
    "tls": {}, "prefetch": {"allow_http": False, "required_keys": ["coverage"]},
}, separators=(",", ":")))

# jose: first byte = mode (see fuzz/jose.cpp), signed with the fixed test key in fuzz/jose.cpp.
def test_key():
    from cryptography.hazmat.primitives import serialization
    text = (root / "fuzz" / "jose.cpp").read_text()
    body = text[text.index('"-----BEGIN PRIVATE KEY-----'):text.index('-----END PRIVATE KEY-----')]
    pem = "".join(part.split('"')[1] for part in body.splitlines()).replace("\\n", "\n")
    return serialization.load_pem_private_key((pem + "-----END PRIVATE KEY-----\n").encode(), password=None)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def es384_token(header, claims):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    key = test_key()
    signing_input = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(claims, separators=(",", ":")).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA384())))
    return signing_input + "." + b64u(r.to_bytes(48, "big") + s.to_bytes(48, "big"))


aud = "http://127.0.0.1:8080/cds-services/order-sign-crd"
h_k1 = {"alg": "ES384", "typ": "JWT", "kid": "k1"}
try:
    put("jose", "raw-signed-expired", b"\x00" + es384_token(h_k1, {
        "iss": "client-1", "aud": aud, "exp": 1700000300, "iat": 1700000000, "jti": "seed-1"}).encode())
    put("jose", "raw-signed-far-future", b"\x00" + es384_token(h_k1, {
        "iss": "client-1", "aud": aud, "exp": 4102444800, "iat": 4102444500, "jti": "seed-2"}).encode())
except ImportError:
    print("make-seeds: python3-cryptography missing; no signed raw-token seeds", file=sys.stderr)
put("jose", "raw-alg-none", b"\x00" + (b64u(b'{"alg":"none"}') + "." + b64u(b'{"iss":"client-1"}') + ".").encode())
put("jose", "raw-hs256", b"\x00" + (b64u(b'{"alg":"HS256","typ":"JWT","kid":"k1"}') + "." +
                                     b64u(b'{"iss":"client-1","exp":1}') + "." + b64u(b"\x00" * 32)).encode())
put("jose", "form-assertion", b"\x01grant_type=client_credentials&client_assertion_type="
    b"urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c&scope=system%2FCoverage.read")
put("jose", "form-bad-escape", b"\x01grant_type=client_credentials&scope=%zz&scope=x")


def signed(mode, header, claims):
    return bytes([mode]) + (json.dumps(header) + "\n" + json.dumps(claims)).encode()


put("jose", "signed-client-jwt-valid", signed(3, h_k1, {"iss": "client-1", "aud": aud, "exp": 240, "iat": 0, "jti": "v1"}))
put("jose", "signed-client-jwt-too-long", signed(3, h_k1, {"iss": "client-1", "aud": aud, "exp": 3600, "iat": 0, "jti": "v2"}))
put("jose", "signed-client-jwt-nbf", signed(3, h_k1, {"iss": "client-1", "aud": [aud, "x"], "exp": 200, "iat": -10,
                                                      "nbf": 100, "jti": "v3", "tenant": "t"}))
put("jose", "signed-assertion", signed(3, h_k1, {"iss": "client-1", "sub": "client-1",
                                                "aud": "http://127.0.0.1:8080/auth/token", "exp": 240, "jti": "a1"}))
put("jose", "signed-access-token", signed(3, {"alg": "ES384", "typ": "JWT", "kid": "@own"}, {
    "iss": "http://127.0.0.1:8080", "sub": "client-1", "aud": "http://127.0.0.1:8080/cds-services",
    "exp": 300, "iat": 0, "jti": "b1", "scope": "system/Coverage.read"}))
put("jose", "signed-absolute-doubles", signed(2, h_k1, {"iss": "client-1", "aud": aud, "exp": 1.5e9, "iat": 1499999900.5,
                                                       "jti": "d1"}))
try:
    numbers = test_key().public_key().public_numbers()
    put("jose", "jwk-ec", b"\x04" + json.dumps({"kty": "EC", "crv": "P-384", "kid": "k1",
        "x": b64u(numbers.x.to_bytes(48, "big")), "y": b64u(numbers.y.to_bytes(48, "big"))}).encode())
except ImportError:
    pass
put("jose", "jwk-rsa-short", b"\x04" + json.dumps({"kty": "RSA", "kid": "r", "n": b64u(b"\xc3" * 128), "e": "AQAB"}).encode())
for name in ("ub-exp-double-cast", "ub-exp-plus-leeway-overflow", "ub-lifetime-overflow-bypass"):
    if (data := attack_input(name)) is not None:
        put("jose", name, data)  # first byte 2/3: the same modes in fuzz/jose.cpp

# response_normaliser: the published CRD responses, edge shapes, and the attack input (its
# harness mode byte stripped: this target takes the body alone).
for p in sorted((examples / "responses").glob("*.json")):
    put("response_normaliser", p.name, minified(p))
put("response_normaliser", "repairable.json", json.dumps({"cards": [
    {"summary": "x" * 150, "indicator": "info", "source": {"label": "Payer"}, "links": [{"label": "", "url": "ftp://x"}],
     "suggestions": [{"label": "s", "actions": [{"type": "create", "resource": {"resourceType": "Task"}}]}]},
    {"summary": "", "indicator": "bad"}], "systemActions": []}, separators=(",", ":")))
put("response_normaliser", "not-cards.json", '{"cards":{}}')
# Answers nothing need be changed in (relayed as their text: the edited invariant), as a decision
# service spaces them, and one with a key given twice.
put("response_normaliser", "unedited-2.0.txt", (root / "bench" / "bodies" / "cds-hooks-answer-order-sign.json").read_text())
put("response_normaliser", "unedited-spaced.txt", '{ "cards" : [ {"uuid": "u1", "summary": "S\\u00e9", "indicator": "info", '
    '"source": {"label": "P", "topic": {"code": "coverage-info"}}, "extension": {"n": 1.50}} ]\n}')
# Shapes the one pass (answer_relay) follows: links of both kinds, cards most severe first, a
# delete and a create action.
put("response_normaliser", "relayable-unread.txt", '{"cards": [{"uuid": "u1", "summary": "S", "indicator": "critical", '
    '"source": {"label": "P", "topic": {"code": "c"}}, "links": [{"label": "L", "url": "https://p.example/x", "type": "smart", '
    '"appContext": "a"}, {"label": "M", "url": "http://p.example/y", "type": "absolute"}]}, {"uuid": "u2", "summary": "T", '
    '"indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}}], "systemActions": [{"type": "delete", '
    '"resourceId": "Task/1", "description": "D"}, {"type": "create", "description": "C", "resource": {"resourceType": "Task"}}]}')
put("response_normaliser", "key-twice.txt", '{"cards": [{"uuid": "u1", "summary": "a", "summary": "b", "indicator": "info", '
    '"source": {"label": "P", "topic": {"code": "c"}}}]}')
if (data := attack_input("normaliser-nonfinite-min")) is not None:
    put("response_normaliser", "normaliser-nonfinite-min", data[1:])

# prefetch_template: small requests, the hook library's context fragments, a discovery document,
# and explicit templates.
for p in small_requests[:6]:
    put("prefetch_template", p.name, minified(p))
for p in sorted((examples / "context-fragments").glob("*.json")):
    put("prefetch_template", p.name, minified(p))
put("prefetch_template", "inferno-discovery.json", minified(examples / "discovery" / "inferno-mock-crd-server-discovery.json"))
put("prefetch_template", "templates.json", json.dumps({
    "templates": ["{{context.patientId}}", "{{ context.userId }}", "{{context.draftOrders.ServiceRequest.id}}",
                  "x{{", "{{}}", "{{context.}}", "{{context.a.b.c.d}}", "}}{{userPractitionerId}}"],
    "context": {"patientId": "p1", "userId": "PractitionerRole/r9", "encounterId": "e1",
                "draftOrders": {"resourceType": "Bundle", "entry": [
                    {"resource": {"resourceType": "ServiceRequest", "id": "sr1"}},
                    {"resource": {"resourceType": "ServiceRequest", "id": "sr2"}}]},
                "dispatchedOrders": ["ServiceRequest/sr7"]}}, separators=(",", ":")))

# url: configured and caller-given URL shapes, and the attack input.
urls = {
    "plain": "http://127.0.0.1:8080",
    "https-path-query": "https://fhir.example.org:8443/r4/Patient?_id=1&x=%20",
    "ipv6": "https://[::1]:443/fhir",
    "ipv6-zone": "http://[fe80::1%25eth0]/",
    "query-only": "HTTPS://Example.COM?x=1",
    "userinfo": "https://user:pw@example.org/",
    "empty-port": "http://example.org:/x",
    "port-max": "http://example.org:65535",
    "fragment": "https://example.org/#x",
    "ftp": "ftp://example.org/",
}
for name, u in urls.items():
    put("url", name, u)
if (data := attack_input("url-bracket-host")) is not None:
    put("url", "url-bracket-host", data)

total = sum(f.stat().st_size for f in corpus.rglob("*") if f.is_file())
print(f"make-seeds: {sum(1 for f in corpus.rglob('*') if f.is_file())} files, {total // 1024} KiB in {corpus}")
