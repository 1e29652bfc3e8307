/// A fully qualified method name, `parley.v<version>.<Service>/<Method>`, e.g. `parley.v1.Calls/Dial`.
///
/// Service and method are UpperCamelCase ASCII identifiers (`[A-Z][A-Za-z0-9]*`, at most 64 characters);
/// the version is a decimal integer from 1 to 9999 without leading zeros. A well-formed name need not be
/// served: that is the server's call (`ControlError.unknownMethod`, status UNIMPLEMENTED).
public struct MethodName: Hashable, Sendable, CustomStringConvertible {
    /// The protocol version, e.g. 1 for `parley.v1`.
    public let version: Int
    /// The service, e.g. `Calls`.
    public let service: String
    /// The method within the service, e.g. `Dial`.
    public let method: String

    /// A name from its parts; throws `invalidArgument(field: "method", …)` when a part is malformed.
    public init(version: Int = 1, service: String, method: String) throws(ControlError) {
        guard (1...9999).contains(version) else {
            throw .invalidArgument(field: "method", reason: "version must lie in 1...9999, found \(version)")
        }
        try MethodName.checkIdentifier(service, role: "service")
        try MethodName.checkIdentifier(method, role: "method")
        self.version = version
        self.service = service
        self.method = method
    }

    /// Parses `parley.v<version>.<Service>/<Method>`; errors name the field `method`.
    public init(parsing text: String) throws(ControlError) {
        let prefix = "parley.v"
        guard text.hasPrefix(prefix) else {
            throw .invalidArgument(field: "method", reason: "expected parley.v<N>.<Service>/<Method>, found \"\(text)\"")
        }
        let rest = text.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let slash = rest.firstIndex(of: "/"), dot < slash else {
            throw .invalidArgument(field: "method", reason: "expected parley.v<N>.<Service>/<Method>, found \"\(text)\"")
        }
        let versionText = rest[..<dot]
        guard !versionText.isEmpty, versionText.count <= 4, versionText.allSatisfy(\.isASCII),
            versionText.allSatisfy(\.isNumber), versionText.first != "0", let version = Int(versionText)
        else {
            throw .invalidArgument(field: "method", reason: "version \"v\(versionText)\" is not v1...v9999")
        }
        try self.init(
            version: version, service: String(rest[rest.index(after: dot)..<slash]),
            method: String(rest[rest.index(after: slash)...]))
    }

    static func checkIdentifier(_ identifier: String, role: String) throws(ControlError) {
        let scalars = identifier.unicodeScalars
        guard let first = scalars.first, ("A"..."Z").contains(first), scalars.count <= 64,
            scalars.allSatisfy({ ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) })
        else {
            throw .invalidArgument(
                field: "method", reason: "\(role) \"\(identifier)\" is not an UpperCamelCase ASCII identifier of at most 64 characters")
        }
    }

    /// The full name as written on the wire.
    public var description: String { "parley.v\(version).\(service)/\(method)" }
}

/// How a method answers: one reply, or a stream of events closed by an `end` frame.
public enum ControlMethodKind: Sendable, Equatable {
    /// One `result` or `error` frame.
    case unary
    /// Any number of `event` frames, then one `end` frame (or one `error` frame if the call never starts).
    case serverStreaming
}

/// The methods version 1 of the control protocol names (Protocols/control/v1.md §9). Names only: their
/// parameters and results are specified as they are served.
public enum ControlCatalog {
    /// Every method of version 1, in the spec's order, with how it answers.
    public static let version1: [(name: MethodName, kind: ControlMethodKind)] = {
        let services: [(String, [String])] = [
            ("Engine", ["Health", "Version", "Describe", "State", "Shutdown"]),
            ("Identity", ["Get"]),
            ("Calls", [
                "Dial", "CreateOffer", "AcceptOffer", "ApplyAnswer", "Accept", "Reject", "Hangup", "Mute", "Unmute",
                "RequestKeyFrame", "SetVideo", "List", "Get", "Stats", "MarkVerified", "Watch", "Record",
            ]),
            ("Devices", ["List", "Select"]),
        ]
        return services.flatMap { service, methods in
            methods.map { method in
                guard let name = try? MethodName(service: service, method: method) else {
                    preconditionFailure("catalog name \(service)/\(method) is malformed")
                }
                return (name, method == "Watch" ? ControlMethodKind.serverStreaming : .unary)
            }
        }
    }()
}
