/// Why a control frame could not be accepted, or why a handler failed. Every case maps to a
/// `ControlStatus` and a message, so a server answers any bad input with an error frame and keeps the
/// connection open.
public enum ControlError: Error, Equatable, Sendable {
    /// The frame is not JSON text; `reason` says what was wrong and at which byte.
    case invalidJSON(reason: String)
    /// The frame's bytes are not valid UTF-8.
    case invalidUTF8
    /// `field` (a path from the frame's root, e.g. `params.address` or `id`) is missing or wrong.
    case invalidArgument(field: String, reason: String)
    /// A line was longer than `limit` bytes; it was discarded up to its newline.
    case oversized(limit: Int)
    /// The method `name` is well formed but not served.
    case unknownMethod(name: String)
    /// A handler's own failure with any status (e.g. NOT_FOUND for an unknown call, FAILED_PRECONDITION
    /// for hanging up a call that already ended); `details` are passed through to the error frame.
    case failed(status: ControlStatus, message: String, details: JSONObject? = nil)

    /// The status an error frame carries for this error.
    public var status: ControlStatus {
        switch self {
        case .invalidJSON, .invalidUTF8, .invalidArgument: .invalidArgument
        case .oversized: .resourceExhausted
        case .unknownMethod: .unimplemented
        case .failed(let status, _, _): status
        }
    }

    /// A one-line message for people; clients act on `status` and `details`, never on this text.
    public var message: String {
        switch self {
        case .invalidJSON(let reason): "invalid JSON: \(reason)"
        case .invalidUTF8: "the frame is not valid UTF-8"
        case .invalidArgument(let field, let reason): "\(field): \(reason)"
        case .oversized(let limit): "frame longer than \(limit) bytes; discarded"
        case .unknownMethod(let name): "method \(name) is not served"
        case .failed(_, let message, _): message
        }
    }

    /// Machine-readable details for the error frame: `field`, `limit` or `method`, when the case has one.
    public var details: JSONObject? {
        switch self {
        case .invalidJSON, .invalidUTF8: nil
        case .invalidArgument(let field, _): ["field": .string(field)]
        case .oversized(let limit): ["limit": .number(JSONNumber(Int64(limit)))]
        case .unknownMethod(let name): ["method": .string(name)]
        case .failed(_, _, let details): details
        }
    }
}
