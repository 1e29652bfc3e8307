public import ParleyWire

/// Why an SRTP context could not be made, or a packet could not be protected or unprotected.
///
/// Receive-side failures are counted per kind in `SRTPContext.Statistics` and never trap: a forged,
/// replayed or damaged packet is dropped and counted, never fatal.
public enum SRTPError: Error, Equatable, Sendable {
    /// The master key or salt has the wrong length for the suite, or a setting is out of range.
    case invalidConfiguration(field: String, reason: String)
    /// The bytes are not an RTP (or RTCP) packet libsrtp can process: too short for the header, the
    /// extension or the tag, a version other than 2, or longer than `SRTPContext.maximumPacketSize`.
    case malformed(WireError)
    /// The authentication tag did not verify (libsrtp `srtp_err_status_auth_fail`): the packet was
    /// altered, or protected under another key; a receiver cannot tell these two apart. Also an AES-CM
    /// SRTCP packet whose E flag disagrees with the suite (`srtp_err_status_cant_check`).
    case authenticationFailed
    /// The packet index was seen before or is older than the replay window
    /// (`srtp_err_status_replay_fail`, `srtp_err_status_replay_old`). libsrtp checks the index before
    /// the tag, so a forged packet carrying an old index is refused as a replay.
    case replayed
    /// The context has no stream for this SSRC (`srtp_err_status_no_ctx`): it serves a fixed SSRC list
    /// that does not include it.
    case unknownSSRC(SSRC)
    /// Protect refused: this packet index was already protected, or is older than the sender's window.
    /// Protecting it again would reuse a keystream (for GCM, a nonce). Retransmit the protected bytes,
    /// or resend through RTX with a fresh sequence number.
    case alreadyProtected
    /// The key has protected as many packets as it may (2^48 RTP, 2^31 SRTCP): rotate the key.
    case keyExhausted
    /// Any other libsrtp failure, with its `srtp_err_status_t` code and the call that returned it.
    case libsrtp(operation: String, status: Int32)
}
