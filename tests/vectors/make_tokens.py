"""Token vectors for the contract's "Keys and tokens" section, computed independently of the
Rust code: Python's `blake3` package (pip install blake3) and the standard library's hmac.

Run: python3 tests/vectors/make_tokens.py > tests/vectors/tokens.json
"""
import hashlib
import hmac
import json

from blake3 import blake3

CONTEXT = "anonymize pseudonymize v1"
KEYS = ["00" * 32, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"]
CASES = [
    ("customer", "100001", 32, False),
    ("customer", "", 32, False),
    ("email", "ann.lee@example.com", 32, True),
    ("email", "ann.lee@example.com", 64, False),
    ("name", "Zoë Ünal", 16, False),
    ("phone", "+1-617-555-0101", 17, False),
    ("x", "a@b@c.example", 20, True),
    ("no-at", "plain-value", 32, True),
]


def keyed_hash(key: bytes, domain: str, value: str, length: int) -> str:
    domain_key = blake3(key + domain.encode(), derive_key_context=CONTEXT).digest()
    return blake3(value.encode(), key=domain_key).hexdigest()[:length]


def hmac_sha256(key: bytes, domain: str, value: str, length: int) -> str:
    message = domain.encode() + b"\x00" + value.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:length]


def with_domain(token: str, value: str, keep_domain: bool) -> str:
    if keep_domain and "@" in value:
        return token + value[value.rindex("@"):]
    return token


vectors = []
for key_hex in KEYS:
    key = bytes.fromhex(key_hex)
    for domain, value, length, keep_domain in CASES:
        for method, fn in (("keyed-hash", keyed_hash), ("hmac-sha256", hmac_sha256)):
            token = with_domain(fn(key, domain, value, length), value, keep_domain)
            vectors.append(dict(key=key_hex, method=method, domain=domain, value=value,
                                length=length, keep_domain=keep_domain, token=token))
print(json.dumps(vectors, indent=1, ensure_ascii=False))
