#!/usr/bin/env python3
"""What a current nvme-cli (libnvme 1.16+) would put into the kernel's .nvme keyring for a configured TLS PSK:
the version-0 identity "NVMe0R0H <hostnqn> <subnqn>" and the TLS PSK bound to it (NVMe TCP 3.6.1.3-3.6.1.4),
computed here with Python's hashlib/hmac, independently of the project's C++ derivation, so the interop suites
check that derivation against the kernel peers instead of reusing it.

  tls_psk.py KEY HOSTNQN SUBNQN   prints "IDENTITY" and then the TLS PSK in hex, one per line
  tls_psk.py --self-test          checks the derivation against libnvme's test vector (test/psk.c)

Test keys only: the TLS PSK goes to stdout, for `keyctl padd psk IDENTITY %:.nvme`."""
import base64
import hashlib
import hmac
import struct
import sys
import zlib

HASHES = {1: hashlib.sha256, 2: hashlib.sha384}


def parse_interchange(text):
    parts = text.strip().split(":")
    if len(parts) != 4 or parts[0] != "NVMeTLSkey-1" or parts[3] != "":
        raise ValueError("not NVMeTLSkey-1:HH:<base64>:")
    hh = int(parts[1], 16)
    raw = base64.b64decode(parts[2])
    key, crc = raw[:-4], struct.unpack("<I", raw[-4:])[0]
    if zlib.crc32(key) != crc:
        raise ValueError("CRC-32 mismatch")
    return hh, key


def hkdf_expand_label(h, secret, label, context, length):
    """HKDF-Expand-Label of RFC 8446 7.1 over PRK = HKDF-Extract(zero salt, secret)."""
    prk = hmac.new(bytes(h().digest_size), secret, h).digest()
    full = b"tls13 " + label
    info = struct.pack(">H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), h).digest()
        out += block
        i += 1
    return out[:length]


def derive(hh, key, hostnqn, subnqn):
    cipher = hh if hh else (2 if len(key) == 48 else 1)
    h = HASHES[cipher]
    retained = key if hh == 0 else hkdf_expand_label(h, key, b"HostNQN", hostnqn.encode(), len(key))
    identity = "NVMe0R%02d %s %s" % (cipher, hostnqn, subnqn)
    return identity, retained, hkdf_expand_label(h, retained, b"nvme-tls-psk", identity.encode(), len(key))


def self_test():
    # libnvme test/psk.c: the version-1 digest is a base64 HMAC keyed with the retained PSK, so it pins it
    hh, key = parse_interchange("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:")
    _, retained, _ = derive(hh, key, "nqn.psk-test-host", "nqn.psk-test-subsys")
    mac = hmac.new(retained, b"nqn.psk-test-host nqn.psk-test-subsys NVMe-over-Fabrics", hashlib.sha256).digest()
    got = base64.b64encode(mac).decode()
    if got != "iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=":
        sys.exit("tls_psk.py: self-test failed: digest " + got)


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    elif len(sys.argv) == 4:
        identity, _, psk = derive(*parse_interchange(sys.argv[1]), sys.argv[2], sys.argv[3])
        print(identity)
        print(psk.hex())
    else:
        sys.exit(__doc__)
