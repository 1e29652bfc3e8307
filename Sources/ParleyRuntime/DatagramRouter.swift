/// Why the router dropped a datagram (Protocols/peer/v1.md §1.2). Each is counted.
public enum RouteDropReason: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Shorter than the smallest datagram of its kind (an empty datagram included).
    case tooShort
    /// A handshake or channel datagram whose reserved bytes 1–3 are not zero.
    case nonzeroReservedBytes
    /// A first byte in the reserved range 0x07–0x0F.
    case reservedType
    /// A first byte that names no Parley datagram.
    case unknownType
    /// A response or channel datagram whose session index names no registered session.
    case unknownIndex
    /// SRTP or SRTCP from an address no session's channel has authenticated.
    case unknownAddress

    /// The reason in a few words.
    public var description: String {
        switch self {
        case .tooShort: "too short"
        case .nonzeroReservedBytes: "reserved bytes not zero"
        case .reservedType: "reserved datagram type"
        case .unknownType: "unknown datagram type"
        case .unknownIndex: "unknown session index"
        case .unknownAddress: "SRTP from an unbound address"
        }
    }
}

/// Finds the session a received datagram belongs to from its first bytes and its source, as
/// Protocols/peer/v1.md §1 lays out; it does no I/O and never reads a clock.
///
/// | first byte | datagram | routed by |
/// |---|---|---|
/// | 0x04 | handshake initiation (≥ 128 bytes) | — a new call for the handshake responder |
/// | 0x05 | handshake response (≥ 64 bytes) | the initiator's index, bytes 8–11 |
/// | 0x06 | channel data (≥ 32 bytes) | the receiver's index, bytes 4–7 |
/// | 128–191 | SRTP / SRTCP (≥ 12 bytes) | the source address a session's channel last authenticated |
///
/// Everything else is dropped and counted by reason. Routing only finds a session: the session still
/// checks everything the datagram claims.
public struct DatagramRouter<SessionID: Hashable & Sendable>: Sendable {
    /// Where a datagram goes.
    public enum Route: Hashable, Sendable {
        /// A handshake initiation: a call this engine has not seen yet.
        case newCall
        /// A datagram for the session `SessionID`.
        case session(SessionID)
        /// Nothing takes it; counted under the reason.
        case drop(RouteDropReason)
    }

    /// Smallest handshake initiation: 24-byte header and a 104-byte Noise message (handshake.md §3).
    public static var minimumInitiationSize: Int { 128 }
    /// Smallest handshake response: 12-byte header and a 52-byte Noise message (handshake.md §4).
    public static var minimumResponseSize: Int { 64 }
    /// Smallest channel datagram: 16-byte header and a 16-byte tag (channel.md §2.1).
    public static var minimumChannelSize: Int { 32 }
    /// Smallest SRTP/SRTCP packet routed: a 12-byte RTP header (an RTCP header and SRTCP index are as long).
    public static var minimumMediaSize: Int { 12 }

    private var sessionsByIndex: [UInt32: SessionID] = [:]
    private var sessionsByAddress: [SocketAddress: SessionID] = [:]
    private var addressesBySession: [SessionID: SocketAddress] = [:]
    /// How many datagrams were dropped, by reason (a reason never seen is absent).
    public private(set) var drops: [RouteDropReason: Int] = [:]

    /// A router with no sessions.
    public init() {}

    /// How many datagrams were dropped for `reason`.
    public func dropCount(_ reason: RouteDropReason) -> Int {
        drops[reason, default: 0]
    }

    /// The session registered under `index`, if any.
    public func session(forIndex index: UInt32) -> SessionID? {
        sessionsByIndex[index]
    }

    /// The session bound to `address`, if any.
    public func session(forAddress address: SocketAddress) -> SessionID? {
        sessionsByAddress[address]
    }

    /// Routes datagrams carrying `index` (a pending handshake's or a call's own index) to `session`.
    /// A session may hold several indices. Returns false, changing nothing, when `index` already names
    /// a different session: the caller picks another random index.
    public mutating func register(index: UInt32, session: SessionID) -> Bool {
        if let existing = sessionsByIndex[index], existing != session { return false }
        sessionsByIndex[index] = session
        return true
    }

    /// Routes SRTP/SRTCP from `address` to `session`: the address its channel last authenticated. The
    /// session's earlier address, and any other session's claim on `address`, are released.
    public mutating func bindAddress(_ address: SocketAddress, to session: SessionID) {
        if let previous = sessionsByAddress[address], previous != session {
            addressesBySession[previous] = nil
        }
        if let old = addressesBySession[session], old != address {
            sessionsByAddress[old] = nil
        }
        sessionsByAddress[address] = session
        addressesBySession[session] = address
    }

    /// Stops routing `index`.
    public mutating func unregister(index: UInt32) {
        sessionsByIndex[index] = nil
    }

    /// Stops routing anything to `session`: its indices and its address.
    public mutating func unregister(session: SessionID) {
        sessionsByIndex = sessionsByIndex.filter { $0.value != session }
        if let address = addressesBySession.removeValue(forKey: session) {
            sessionsByAddress[address] = nil
        }
    }

    /// Where `datagram`, received from `source`, goes; a drop is counted.
    public mutating func route(_ datagram: some Collection<UInt8>, from source: SocketAddress) -> Route {
        let route = classify(datagram, from: source)
        if case .drop(let reason) = route {
            drops[reason, default: 0] += 1
        }
        return route
    }

    private func classify(_ datagram: some Collection<UInt8>, from source: SocketAddress) -> Route {
        // The first 12 bytes as three big-endian words. A word the datagram does not fill is wrong, so
        // every branch checks the length before it reads one.
        var words: (UInt32, UInt32, UInt32) = (0, 0, 0)
        var count = 0
        for byte in datagram.prefix(12) {
            switch count / 4 {
            case 0: words.0 = words.0 << 8 | UInt32(byte)
            case 1: words.1 = words.1 << 8 | UInt32(byte)
            default: words.2 = words.2 << 8 | UInt32(byte)
            }
            count += 1
        }
        guard let type = datagram.first else { return .drop(.tooShort) }
        let length = count < 12 ? count : datagram.count
        let reservedBytesAreZero = words.0 & 0x00FF_FFFF == 0

        switch type {
        case 0x04:
            guard length >= Self.minimumInitiationSize else { return .drop(.tooShort) }
            guard reservedBytesAreZero else { return .drop(.nonzeroReservedBytes) }
            return .newCall
        case 0x05:
            guard length >= Self.minimumResponseSize else { return .drop(.tooShort) }
            guard reservedBytesAreZero else { return .drop(.nonzeroReservedBytes) }
            guard let session = sessionsByIndex[words.2] else { return .drop(.unknownIndex) }
            return .session(session)
        case 0x06:
            guard length >= Self.minimumChannelSize else { return .drop(.tooShort) }
            guard reservedBytesAreZero else { return .drop(.nonzeroReservedBytes) }
            guard let session = sessionsByIndex[words.1] else { return .drop(.unknownIndex) }
            return .session(session)
        case 0x07...0x0F:
            return .drop(.reservedType)
        case 128...191:
            guard length >= Self.minimumMediaSize else { return .drop(.tooShort) }
            guard let session = sessionsByAddress[source] else { return .drop(.unknownAddress) }
            return .session(session)
        default:
            return .drop(.unknownType)
        }
    }
}
