/// What can go wrong in the jitter buffers: a bad configuration, or a decoder or time-stretcher failing.
///
/// Packets that cannot be used (late, duplicate, malformed, over a buffer's cap) are never errors: they
/// are dropped and counted in the buffers' statistics.
public enum JitterError: Error, Equatable, Sendable {
    /// A configuration value is out of range; `field` names it.
    case invalidConfiguration(field: String, reason: String)
    /// The injected decoder failed; `reason` is its message.
    case decoderFailed(reason: String)
    /// libsonic could not be set up (out of memory).
    case timeStretcherUnavailable
}
