/// Sans-IO NDJSON framing: bytes in, one outcome per line out. It never reads or writes a socket.
///
/// Feed it the bytes a connection delivers, in any chunking; each call returns the outcomes that those
/// bytes completed, in stream order. A line is the bytes before an LF; one CR just before the LF is
/// dropped (CRLF is tolerated); empty lines are skipped. A line longer than `maximumFrameSize` bytes
/// (counting a CR, not the LF) yields `.oversized` once, as soon as it is known to be too long; the rest
/// of it is discarded up to the next LF and framing continues, so the connection stays usable. Memory
/// held is at most `maximumFrameSize` bytes. A complete line that is not UTF-8 yields `.invalidUTF8`.
/// The server answers both with an error frame whose id is null (`error`).
public struct ControlFramer: Sendable {
    /// What one line of input produced.
    public enum Outcome: Sendable, Equatable {
        /// A complete line, without its terminator, valid UTF-8.
        case frame(String)
        /// A line exceeded `limit` bytes and is being discarded.
        case oversized(limit: Int)
        /// A complete line was not valid UTF-8 and was discarded.
        case invalidUTF8

        /// The error to report for this outcome, or `nil` for a frame.
        public var error: ControlError? {
            switch self {
            case .frame: nil
            case .oversized(let limit): .oversized(limit: limit)
            case .invalidUTF8: .invalidUTF8
            }
        }
    }

    /// The default maximum frame size: 1 MiB (1 048 576 bytes).
    public static let defaultMaximumFrameSize = 1 << 20

    /// The longest line accepted, in bytes, not counting the LF.
    public let maximumFrameSize: Int
    private var pending: [UInt8] = []
    private var discarding = false

    /// A framer accepting lines of up to `defaultMaximumFrameSize` (1 MiB).
    public init() { maximumFrameSize = ControlFramer.defaultMaximumFrameSize }

    /// A framer accepting lines of up to `maximumFrameSize` bytes; throws
    /// `invalidArgument(field: "maximumFrameSize", …)` unless it is positive.
    public init(maximumFrameSize: Int) throws(ControlError) {
        guard maximumFrameSize > 0 else {
            throw .invalidArgument(field: "maximumFrameSize", reason: "must be positive, found \(maximumFrameSize)")
        }
        self.maximumFrameSize = maximumFrameSize
    }

    /// The bytes of an unfinished line held so far.
    public var bufferedByteCount: Int { pending.count }

    /// Takes the next bytes of the stream; returns the outcomes they completed, in order.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Outcome] {
        var outcomes: [Outcome] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: 0x0A)
            let segment = rest[..<(newline ?? rest.endIndex)]
            if !discarding {
                if pending.count + segment.count > maximumFrameSize {
                    outcomes.append(.oversized(limit: maximumFrameSize))
                    pending.removeAll(keepingCapacity: false)
                    discarding = true
                } else {
                    pending.append(contentsOf: segment)
                }
            }
            guard let newline else { break }
            if discarding {
                discarding = false
            } else if let outcome = takeLine() {
                outcomes.append(outcome)
            }
            rest = rest[rest.index(after: newline)...]
        }
        return outcomes
    }

    /// Ends the stream (the peer closed its side): a final line without LF counts as a line.
    public mutating func finish() -> [Outcome] {
        defer {
            pending.removeAll()
            discarding = false
        }
        guard !discarding, let outcome = takeLine() else { return [] }
        return [outcome]
    }

    private mutating func takeLine() -> Outcome? {
        defer { pending.removeAll(keepingCapacity: true) }
        var line = pending[...]
        if line.last == 0x0D { line = line.dropLast() }
        if line.isEmpty { return nil }
        guard let text = String(validating: line, as: UTF8.self) else { return .invalidUTF8 }
        return .frame(text)
    }

    /// `value` as one frame: compact JSON and an LF. JSON escapes every newline inside strings, so the
    /// only LF is the terminator.
    public static func line(_ value: JSONValue) -> [UInt8] {
        var bytes = Array(value.serialized().utf8)
        bytes.append(0x0A)
        return bytes
    }
}
