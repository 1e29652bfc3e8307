/// Why bytes from the wire could not be parsed. Shared by every wire parser (RTP, RTCP, payload formats).
///
/// Parsers never trap on input: every malformed buffer maps to one of these, naming the field.
public enum WireError: Error, Equatable, Sendable {
    /// The buffer ended inside `field`: it needed `needed` bytes and `available` were left.
    case truncated(field: String, needed: Int, available: Int)
    /// `field` held a value the format does not allow (a wrong version, a reserved value in use…).
    case invalidValue(field: String, reason: String)
    /// A length field (`field`) disagrees with the bytes actually present.
    case lengthMismatch(field: String, declared: Int, actual: Int)
}
