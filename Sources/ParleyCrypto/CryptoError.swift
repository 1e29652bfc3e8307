public import ParleyWire

/// What went wrong in Parley's cryptography: handshakes, the pairwise channel, sender keys, SFrame,
/// identities and verification.
///
/// The session counts these per kind (a forged packet is dropped and counted, never fatal); the
/// control edge maps them to status codes (`identityStorage` to `FAILED_PRECONDITION`, the rest to
/// `INTERNAL` or dropped input).
public enum CryptoError: Error, Equatable, Sendable {
    /// A cryptographic wire structure did not parse (header, handshake message, announcement…).
    case malformed(WireError)
    /// Authentication failed: a tag did not verify, so the input was forged, damaged or for another key.
    case authenticationFailed(what: String)
    /// A counter (nonce, SFrame CTR, message number) was seen before or is older than the replay window.
    case replayed(what: String, counter: UInt64)
    /// No key is known for this key id (never announced, or past its grace period).
    case unknownKey(what: String, keyID: UInt64)
    /// A key's counter or data limit is reached: rotate or rekey; counters never wrap.
    case keyExhausted(what: String)
    /// A key or key-like input has the wrong size or is not valid (e.g. a low-order X25519 point).
    case invalidKey(what: String, reason: String)
    /// An operation came in the wrong state (a handshake message out of turn, a channel before it is ready).
    case invalidState(what: String, reason: String)
    /// The peer's identity or offer was refused (not allowed, or the wrong responder key).
    case rejected(reason: String)
    /// The identity store on disk is unusable: `path` names the file or directory, `reason` says why.
    case identityStorage(path: String, reason: String)
}
