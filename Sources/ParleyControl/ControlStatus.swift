/// gRPC's canonical status codes, by name and number. On the wire a status is its name string.
///
/// `ok` ends a successful stream; every other code reports a failure. Names and numbers are gRPC's
/// (`CANCELLED` keeps gRPC's spelling), so tooling that knows gRPC reads them without a table.
public enum ControlStatus: Int, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Success.
    case ok = 0
    /// The client cancelled the call.
    case cancelled = 1
    /// An error with no better code.
    case unknown = 2
    /// The request is malformed, whatever the engine's state.
    case invalidArgument = 3
    /// The deadline passed before the call finished.
    case deadlineExceeded = 4
    /// The named thing (a call, a device) does not exist.
    case notFound = 5
    /// The thing the request would create already exists.
    case alreadyExists = 6
    /// The caller may not do this.
    case permissionDenied = 7
    /// A limit was hit (frame size, number of calls…).
    case resourceExhausted = 8
    /// The engine is not in a state that allows this.
    case failedPrecondition = 9
    /// A concurrency conflict aborted the operation.
    case aborted = 10
    /// A value is outside the range valid now.
    case outOfRange = 11
    /// The method is not served (unknown, or of a version this server does not speak).
    case unimplemented = 12
    /// An invariant of the engine broke.
    case `internal` = 13
    /// The engine cannot serve this now; retrying may help.
    case unavailable = 14
    /// Unrecoverable data loss.
    case dataLoss = 15
    /// The caller's identity could not be established.
    case unauthenticated = 16

    /// The canonical name, e.g. `INVALID_ARGUMENT`.
    public var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    /// The status whose canonical name is `name` (exact, upper case), or `nil`.
    public init?(name: String) {
        guard let status = ControlStatus.allCases.first(where: { $0.name == name }) else { return nil }
        self = status
    }

    /// The canonical name.
    public var description: String { name }

    /// Decodes the canonical name string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let status = ControlStatus(name: name) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown status \(name)")
        }
        self = status
    }

    /// Encodes the canonical name string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
