#!/usr/bin/env python3
"""Writes srtp-known-answers.json: SRTP and SRTCP packets protected by a tool that is not Parley.

Two independent implementations protect the same packets under the same master keys, and the script
refuses to write anything unless they agree byte for byte:

1. pylibsrtp 1.0.0 (PyPI), which bundles its own build of libsrtp with the OpenSSL crypto backend
   (Parley links Debian's libsrtp2 2.5, built with NSS);
2. a reference written here from the RFC text with pyca/cryptography (AES-ECB/CTR/GCM, HMAC-SHA1):
   the RFC 3711 §4.3 key derivation, RFC 3711 §3.3/§3.4/§4.1.1/§4.2 for AES-CM + HMAC-SHA1, and
   RFC 7714 §8/§9 for AEAD AES-GCM. Before use, the reference must reproduce the published vectors
   of RFC 3711 Appendix B.2 and B.3, RFC 7714 §16.1.1, §16.2.1, §17.1 and §17.2, and libsrtp's own
   srtp_driver.c `srtp_validate` packets.

RFC 7714 §16/§17 publish *session* keys (no master key), so they cannot be fed to any libsrtp-based
context (libsrtp always derives session keys from a master key); they are checked here, against the
reference that then keys the GCM fixtures.

Reproduce (from this directory):
    python3 -m venv /tmp/srtp-venv
    /tmp/srtp-venv/bin/pip install pylibsrtp==1.0.0 cryptography==48.0.0
    /tmp/srtp-venv/bin/python make_fixture.py > srtp-known-answers.json
The output is deterministic: running it again must leave the file unchanged.
"""

import hashlib
import hmac
import json
import sys

import cryptography
import pylibsrtp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def unhex(text):
    return bytes.fromhex("".join(text.split()))


# --- Reference implementation, from the RFC text -------------------------------------------------

SUITES = {
    # name: (master key, master salt, RTP tag, SRTCP tag, AEAD?)
    "AES_CM_128_HMAC_SHA1_80": (16, 14, 10, 10, False),
    "AES_CM_128_HMAC_SHA1_32": (16, 14, 4, 10, False),
    "AEAD_AES_128_GCM": (16, 12, 16, 16, True),
    "AEAD_AES_256_GCM": (32, 12, 16, 16, True),
}


def aes_ctr(key, iv, data):
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)


def kdf(master_key, master_salt, label, length):
    """RFC 3711 §4.3.1 with key derivation rate 0: x = label·2^48 XOR master_salt (112 bits), and the
    output is the AES-CM keystream under the master key from IV = x·2^16. A 12-byte AEAD master salt is
    extended with two zero bytes on the right (what libsrtp does; RFC 7714 publishes no KDF vector)."""
    x = bytearray(master_salt.ljust(14, b"\0"))
    x[7] ^= label
    return aes_ctr(master_key, bytes(x) + b"\0\0", b"\0" * length)


def session_keys(suite, master_key, master_salt):
    key_len, _, _, _, aead = SUITES[suite]
    salt_len = 12 if aead else 14
    keys = {
        "rtp_key": kdf(master_key, master_salt, 0, key_len),
        "rtp_salt": kdf(master_key, master_salt, 2, salt_len),
        "rtcp_key": kdf(master_key, master_salt, 3, key_len),
        "rtcp_salt": kdf(master_key, master_salt, 5, salt_len),
    }
    if not aead:
        keys["rtp_auth"] = kdf(master_key, master_salt, 1, 20)
        keys["rtcp_auth"] = kdf(master_key, master_salt, 4, 20)
    return keys


def rtp_header_length(packet):
    length = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        length += 4 + 4 * int.from_bytes(packet[length + 2 : length + 4], "big")
    return length


def cm_iv(salt14, ssrc, index):
    """RFC 3711 §4.1.1: IV = (k_s·2^16) XOR (SSRC·2^64) XOR (i·2^16), 128 bits."""
    value = (int.from_bytes(salt14, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    return value.to_bytes(16, "big")


def cm_protect_rtp(key, salt, auth, tag_len, roc, packet):
    """RFC 3711 §3.3: encrypt the payload, then tag = HMAC-SHA1(header ‖ ciphertext ‖ ROC), truncated."""
    header_len = rtp_header_length(packet)
    ssrc = int.from_bytes(packet[8:12], "big")
    index = (roc << 16) | int.from_bytes(packet[2:4], "big")
    out = packet[:header_len] + aes_ctr(key, cm_iv(salt, ssrc, index), packet[header_len:])
    tag = hmac.new(auth, out + roc.to_bytes(4, "big"), hashlib.sha1).digest()[:tag_len]
    return out + tag


def cm_protect_rtcp(key, salt, auth, tag_len, index, packet):
    """RFC 3711 §3.4: encrypt after the first 8 bytes, append E‖index, then the tag over all of that."""
    ssrc = int.from_bytes(packet[4:8], "big")
    out = packet[:8] + aes_ctr(key, cm_iv(salt, ssrc, index), packet[8:])
    out += (0x80000000 | index).to_bytes(4, "big")
    return out + hmac.new(auth, out, hashlib.sha1).digest()[:tag_len]


def gcm_protect_rtp(key, salt, roc, packet):
    """RFC 7714 §8: IV = salt XOR (00 00 ‖ SSRC ‖ ROC ‖ SEQ); AAD = the header; tag after the ciphertext."""
    header_len = rtp_header_length(packet)
    nonce = b"\0\0" + packet[8:12] + roc.to_bytes(4, "big") + packet[2:4]
    iv = bytes(a ^ b for a, b in zip(salt, nonce))
    return packet[:header_len] + AESGCM(key).encrypt(iv, packet[header_len:], packet[:header_len])


def gcm_protect_rtcp(key, salt, index, packet):
    """RFC 7714 §9: IV = salt XOR (00 00 ‖ SSRC ‖ 00 00 ‖ 0‖index); AAD = first 8 bytes ‖ E‖index;
    the packet is first 8 bytes ‖ ciphertext ‖ tag ‖ E‖index."""
    nonce = b"\0\0" + packet[4:8] + b"\0\0" + index.to_bytes(4, "big")
    iv = bytes(a ^ b for a, b in zip(salt, nonce))
    esrtcp = (0x80000000 | index).to_bytes(4, "big")
    return packet[:8] + AESGCM(key).encrypt(iv, packet[8:], packet[:8] + esrtcp) + esrtcp


def gcm_unprotect_rtcp(key, salt, packet):
    esrtcp = packet[-4:]
    index = int.from_bytes(esrtcp, "big") & 0x7FFFFFFF
    nonce = b"\0\0" + packet[4:8] + b"\0\0" + index.to_bytes(4, "big")
    iv = bytes(a ^ b for a, b in zip(salt, nonce))
    return packet[:8] + AESGCM(key).decrypt(iv, packet[8:-4], packet[:8] + esrtcp)


class ReferenceSender:
    """One outbound stream: tracks the ROC across sequence wraps and the SRTCP index (libsrtp's first
    SRTCP index is 1)."""

    def __init__(self, suite, master_key, master_salt):
        self.suite = suite
        self.keys = session_keys(suite, master_key, master_salt)
        self.roc = 0
        self.last_seq = None
        self.rtcp_index = 0

    def protect(self, packet):
        seq = int.from_bytes(packet[2:4], "big")
        if self.last_seq is not None and seq < self.last_seq and self.last_seq - seq > 0x8000:
            self.roc += 1
        self.last_seq = seq
        _, _, tag_len, _, aead = SUITES[self.suite]
        k = self.keys
        if aead:
            return gcm_protect_rtp(k["rtp_key"], k["rtp_salt"], self.roc, packet)
        return cm_protect_rtp(k["rtp_key"], k["rtp_salt"], k["rtp_auth"], tag_len, self.roc, packet)

    def protect_rtcp(self, packet):
        self.rtcp_index += 1
        _, _, _, tag_len, aead = SUITES[self.suite]
        k = self.keys
        if aead:
            return gcm_protect_rtcp(k["rtcp_key"], k["rtcp_salt"], self.rtcp_index, packet)
        return cm_protect_rtcp(k["rtcp_key"], k["rtcp_salt"], k["rtcp_auth"], tag_len, self.rtcp_index, packet)


def check(name, actual, expected):
    if actual != expected:
        sys.exit(f"make_fixture.py: the reference does not reproduce {name}:\n  got      {actual.hex()}\n  expected {expected.hex()}")


def check_published_vectors():
    # RFC 3711 Appendix B.2, AES-CM keystream: session key 2B7E1516…, salt F0F1…FD, SSRC 0, index 0.
    check(
        "RFC 3711 B.2 keystream",
        aes_ctr(unhex("2B7E151628AED2A6ABF7158809CF4F3C"), cm_iv(unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"), 0, 0), b"\0" * 32),
        unhex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB"),
    )
    # RFC 3711 Appendix B.3, key derivation.
    master_key, master_salt = unhex("E1F97A0D3E018BE0D64FA32C06DE4139"), unhex("0EC675AD498AFEEBB6960B3AABE6")
    check("RFC 3711 B.3 cipher key", kdf(master_key, master_salt, 0, 16), unhex("C61E7A93744F39EE10734AFE3FF7A087"))
    check("RFC 3711 B.3 cipher salt", kdf(master_key, master_salt, 2, 14), unhex("30CBBC08863D8C85D49DB34A9AE1"))
    check("RFC 3711 B.3 auth key", kdf(master_key, master_salt, 1, 20), unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))

    # RFC 7714 §16 and §17: session key 00 01 … 0f (or … 1f), salt "Quid pro quo".
    salt = unhex("51756964 2070726f 2071756f")
    key128, key256 = bytes(range(16)), bytes(range(32))
    rtp = unhex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573")
    check("RFC 7714 §16.1.1", gcm_protect_rtp(key128, salt, 0, rtp), unhex(
        "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5"
        "0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce"))
    check("RFC 7714 §16.2.1", gcm_protect_rtp(key256, salt, 0, rtp), unhex(
        "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238"
        "9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13"))
    rtcp = unhex("81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef")
    check("RFC 7714 §17.1", gcm_protect_rtcp(key128, salt, 0x5D4, rtcp), unhex(
        "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d"
        "c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4"))
    check("RFC 7714 §17.2", gcm_unprotect_rtcp(key256, salt, unhex(
        "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50"
        "a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c b26ac3be 800005d4")), rtcp)

    # libsrtp test/srtp_driver.c srtp_validate(): AES_CM_128_HMAC_SHA1_80, master key/salt of B.3.
    sender = ReferenceSender("AES_CM_128_HMAC_SHA1_80", master_key, master_salt)
    check("srtp_driver.c srtp_validate RTP", sender.protect(unhex("800f1234 decafbad cafebabe" + " abababab" * 4)), unhex(
        "800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc 99ea179b 8dbb"))
    check("srtp_driver.c srtp_validate RTCP", sender.protect_rtcp(unhex("81c8000b cafebabe" + " abababab" * 4)), unhex(
        "81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8 80000001 993e08cd 54d6c123 0798"))


# --- The packets of the fixture -------------------------------------------------------------------

SSRC = 0x5EC0_0001


def rtp_packet(seq, timestamp, payload, marker=False, csrcs=(), extension=None, padding=0):
    """An RTP packet built byte by byte (RFC 3550 §5.1; extension = one-byte-header RFC 8285 elements)."""
    first = 0x80 | (0x20 if padding else 0) | (0x10 if extension is not None else 0) | len(csrcs)
    out = bytes([first, (0x80 if marker else 0) | 96]) + seq.to_bytes(2, "big")
    out += timestamp.to_bytes(4, "big") + SSRC.to_bytes(4, "big")
    for csrc in csrcs:
        out += csrc.to_bytes(4, "big")
    if extension is not None:
        body = extension + b"\0" * (-len(extension) % 4)
        out += b"\xbe\xde" + (len(body) // 4).to_bytes(2, "big") + body
    out += payload
    if padding:
        out += b"\0" * (padding - 1) + bytes([padding])
    return out


def pattern(count, seed):
    return bytes((index * 31 + seed) & 0xFF for index in range(count))


def rtp_packets():
    """Eight packets of one stream: sizes 0…1200, CSRCs, an RFC 8285 extension, padding, and a
    sequence-number wrap (65534, 65535, 0, 1), so the ROC goes from 0 to 1 inside the fixture."""
    return [
        rtp_packet(65532, 1000, pattern(160, 1)),
        rtp_packet(65533, 1960, b"", marker=True),
        rtp_packet(65534, 2920, pattern(1, 2), csrcs=(0x11111111, 0x22222222)),
        rtp_packet(65535, 3880, pattern(17, 3), extension=bytes([0x10, 0x2A, 0x22, 0x01, 0x02, 0x03])),
        rtp_packet(0, 4840, pattern(1200, 4), marker=True),
        rtp_packet(1, 5800, pattern(33, 5), padding=4),
        rtp_packet(2, 6760, pattern(16, 6), csrcs=(0x33333333,), extension=bytes([0x50, 0xFF, 0xEE])),
        rtp_packet(3, 7720, pattern(255, 7)),
    ]


def rtcp_packets():
    """Three compound packets: an SR with one report block, an RR followed by an SDES CNAME, and a PLI."""
    ssrc = SSRC.to_bytes(4, "big")
    report_block = unhex("0BADCAFE 05000012 0001FFFF 00000020 11223344 00000100")
    sender_report = unhex("81C8000C") + ssrc + unhex("E8D4A510 00000000 0001D4C0 00000064 00003E80") + report_block
    receiver_report = unhex("81C90007") + ssrc + report_block
    cname = b"parley@fixture"
    sdes_chunk = ssrc + bytes([1, len(cname)]) + cname
    sdes_chunk += b"\0" * (4 - len(sdes_chunk) % 4)
    sdes = bytes([0x81, 202]) + ((4 + len(sdes_chunk)) // 4 - 1).to_bytes(2, "big") + sdes_chunk
    pli = unhex("81CE0002") + ssrc + unhex("0BADCAFE")
    return [sender_report, receiver_report + sdes, pli]


CASES = [
    ("AES_CM_128_HMAC_SHA1_80", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80),
    ("AES_CM_128_HMAC_SHA1_32", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32),
    ("AEAD_AES_128_GCM", pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM),
    ("AEAD_AES_256_GCM", pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM),
]


def make_case(suite, profile, number):
    key_len, salt_len, _, _, _ = SUITES[suite]
    master_key = bytes((0x10 * number + index * 7) & 0xFF for index in range(key_len))
    master_salt = bytes((0xA0 + number + index * 13) & 0xFF for index in range(salt_len))

    def session(ssrc_type):
        policy = pylibsrtp.Policy(key=master_key + master_salt, ssrc_type=ssrc_type, srtp_profile=profile)
        return pylibsrtp.Session(policy=policy)

    tool_sender = session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    tool_receiver = session(pylibsrtp.Policy.SSRC_ANY_INBOUND)
    reference = ReferenceSender(suite, master_key, master_salt)

    def entries(packets, protect, reference_protect, unprotect, kind):
        result = []
        for number_in_case, plain in enumerate(packets):
            protected = bytes(protect(plain))
            if protected != reference_protect(plain):
                sys.exit(f"make_fixture.py: pylibsrtp and the reference disagree on {suite} {kind} #{number_in_case}")
            if bytes(unprotect(protected)) != plain:
                sys.exit(f"make_fixture.py: pylibsrtp does not unprotect its own {suite} {kind} #{number_in_case}")
            result.append({"plain": plain.hex(), "protected": protected.hex()})
        return result

    return {
        "suite": suite,
        "masterKey": master_key.hex(),
        "masterSalt": master_salt.hex(),
        "ssrc": SSRC,
        "rtp": entries(rtp_packets(), tool_sender.protect, reference.protect, tool_receiver.unprotect, "RTP"),
        "rtcp": entries(rtcp_packets(), tool_sender.protect_rtcp, reference.protect_rtcp, tool_receiver.unprotect_rtcp, "RTCP"),
    }


def main():
    check_published_vectors()
    fixture = {
        "description": "SRTP/SRTCP known answers: each case's packets protected in order by one sender "
        "(SRTCP index from 1), by pylibsrtp and by make_fixture.py's RFC reference, which agree.",
        "producedBy": f"make_fixture.py with pylibsrtp {pylibsrtp.__version__} and cryptography {cryptography.__version__}",
        "cases": [make_case(suite, profile, number + 1) for number, (suite, profile) in enumerate(CASES)],
    }
    json.dump(fixture, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
