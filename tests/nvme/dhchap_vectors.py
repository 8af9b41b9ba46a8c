#!/usr/bin/env python3
"""Known-answer vectors for DH-HMAC-CHAP, computed independently of the C++ code (NVMe Base 2.0, 8.13.5).

Only Python's hashlib, hmac, base64 and zlib are used; the FFDHE prime comes from RFC 7919's own formula
p = 2^b - 2^(b-64) + (floor(2^(b-130) * e) + X) * 2^64 - 1, with e summed here, so nothing is taken from OpenSSL.
Run it to print the constants pinned in dhchap_kat_test.cpp:  python3 tests/nvme/dhchap_vectors.py
"""
import base64
import hashlib
import hmac
import struct
import zlib

HASHES = {1: "sha256", 2: "sha384", 3: "sha512"}
HOSTNQN = b"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
SUBNQN = b"nqn.2024-01.io.nvmf:kat"
SEQ1, SEQ2, TID = 0x01020304, 0x0A0B0C0D, 0x0506


def secret(key: bytes, hh: int) -> str:
    crc = struct.pack("<I", zlib.crc32(key) & 0xFFFFFFFF)
    return "DHHC-1:%02x:%s:" % (hh, base64.b64encode(key + crc).decode())


def transform(key: bytes, hh: int, nqn: bytes) -> bytes:
    if hh == 0:
        return key
    return hmac.new(key, nqn + b"NVMe-over-Fabrics", HASHES[hh]).digest()


def augment(h: int, challenge: bytes, session: bytes) -> bytes:
    if not session:
        return challenge
    return hmac.new(hashlib.new(HASHES[h], session).digest(), challenge, HASHES[h]).digest()


def response(h, key_t, challenge, session, seq, tid, role, nqn1, nqn2):
    msg = augment(h, challenge, session) + struct.pack("<IHB", seq, tid, 0) + role + nqn1 + b"\0" + nqn2
    return hmac.new(key_t, msg, HASHES[h]).digest()


def ffdhe_prime(bits: int, x: int) -> int:
    # floor(2^(bits-130) * e) from the series sum 1/k!, with 128 guard bits
    guard = 128
    scale = 1 << (bits - 130 + guard)
    total, fact, k = 0, 1, 0
    while scale // fact:
        total += scale // fact
        k += 1
        fact *= k
    e_part = total >> guard
    return (1 << bits) - (1 << (bits - 64)) + (e_part + x) * (1 << 64) - 1


def hexs(b: bytes) -> str:
    return b.hex()


def main():
    out = []
    host_key = bytes(range(32))
    ctrl_key = bytes(range(0x40, 0x60))
    out.append(("secret_host_01", secret(host_key, 1)))
    out.append(("secret_ctrl_00", secret(ctrl_key, 0)))
    for hh, n in ((1, 32), (2, 48), (3, 64)):
        key = bytes((i * 3 + hh) & 0xFF for i in range(n))
        out.append(("transform_%s_key" % HASHES[hh], hexs(key)))
        out.append(("transform_%s" % HASHES[hh], hexs(transform(key, hh, HOSTNQN))))
    kh = transform(host_key, 1, HOSTNQN)
    kc = transform(ctrl_key, 0, SUBNQN)
    for h, name in HASHES.items():
        hl = hashlib.new(name).digest_size
        c1 = bytes((0xA0 + i) & 0xFF for i in range(hl))
        c2 = bytes((0x10 + 2 * i) & 0xFF for i in range(hl))
        out.append(("r1_null_" + name, hexs(response(h, kh, c1, b"", SEQ1, TID, b"HostHost", HOSTNQN, SUBNQN))))
        out.append(("r2_null_" + name, hexs(response(h, kc, c2, b"", SEQ2, TID, b"Controller", SUBNQN, HOSTNQN))))
    p = ffdhe_prime(2048, 560316)
    x = int.from_bytes(bytes(range(1, 33)), "big")
    y = int.from_bytes(bytes(range(0x80, 0xA0)), "big")
    gx, gy = pow(2, x, p), pow(2, y, p)
    shared = pow(gy, x, p).to_bytes(256, "big")
    out.append(("ffdhe2048_p_low64", "%016x" % (p & ((1 << 64) - 1))))
    out.append(("ffdhe2048_gx", hexs(gx.to_bytes(256, "big"))))
    out.append(("ffdhe2048_gy", hexs(gy.to_bytes(256, "big"))))
    out.append(("ffdhe2048_shared", hexs(shared)))
    c1 = bytes((0xA0 + i) & 0xFF for i in range(32))
    out.append(("augmented_sha256", hexs(augment(1, c1, shared))))
    out.append(("r1_ffdhe2048_sha256", hexs(response(1, kh, c1, shared, SEQ1, TID, b"HostHost", HOSTNQN, SUBNQN))))
    for name, value in out:
        print('  {"%s",\n   "%s"},' % (name, value))


if __name__ == "__main__":
    main()
