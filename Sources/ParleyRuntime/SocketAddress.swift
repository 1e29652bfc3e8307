package import Glibc
public import ParleySession

extension IPAddress {
    /// The address in `text` (`127.0.0.1`, `::1`, no brackets), or nil when it is neither form.
    public init?(_ text: String) {
        if let address = Self.parse(text, family: AF_INET) ?? Self.parse(text, family: AF_INET6) {
            self = address
        } else {
            return nil
        }
    }

    private static func parse(_ text: String, family: Int32) -> IPAddress? {
        var raw = [UInt8](repeating: 0, count: 16)
        guard inet_pton(family, text, &raw) == 1 else { return nil }
        return IPAddress(bytes: Array(raw.prefix(family == AF_INET ? 4 : 16)))
    }
}

/// An IP address and a UDP port: where a datagram comes from or goes to.
///
/// Written `127.0.0.1:5000` or `[::1]:5000`. IPv6 scope ids (`%eth0`) are not supported.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address.
    public var ip: IPAddress
    /// The port (0 when binding means "any free port").
    public var port: UInt16

    /// `ip` and `port`.
    public init(_ ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// The address written in `text` (`127.0.0.1:5000`, `[::1]:5000`); the error names what is wrong.
    public init(parsing text: String) throws(RuntimeError) {
        func fail(_ problem: RuntimeError.AddressProblem) -> RuntimeError {
            .invalidAddress(text, problem: problem)
        }
        guard !text.isEmpty else { throw fail(.empty) }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw fail(.unclosedBracket) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw fail(.missingPort) }
            portText = rest.dropFirst()
            guard let address = Self.parseIPv6(host) else { throw fail(.invalidIPv6(String(host))) }
            ip = address
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw fail(.missingPort) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw fail(.unbracketedIPv6) }
            var raw = [UInt8](repeating: 0, count: 4)
            guard inet_pton(AF_INET, String(host), &raw) == 1, let address = IPAddress(bytes: raw) else {
                throw fail(.invalidIPv4(String(host)))
            }
            ip = address
        }
        port = try Self.parsePort(portText, in: text)
    }

    /// `ip:port` or `[ip]:port`.
    public var description: String {
        switch ip {
        case .v4: "\(ip):\(port)"
        case .v6: "[\(ip)]:\(port)"
        }
    }

    /// 127.0.0.1 at `port`.
    public static func loopbackV4(port: UInt16) -> SocketAddress { SocketAddress(.loopbackV4, port: port) }
    /// ::1 at `port`.
    public static func loopbackV6(port: UInt16) -> SocketAddress { SocketAddress(.loopbackV6, port: port) }

    private static func parseIPv6(_ host: Substring) -> IPAddress? {
        var raw = [UInt8](repeating: 0, count: 16)
        guard inet_pton(AF_INET6, String(host), &raw) == 1 else { return nil }
        return IPAddress(bytes: raw)
    }

    private static func parsePort(_ text: Substring, in whole: String) throws(RuntimeError) -> UInt16 {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = UInt16(text)
        else {
            throw .invalidAddress(whole, problem: .invalidPort(String(text)))
        }
        return value
    }
}

// MARK: - sockaddr_storage (package only: no C type in the public API)

extension SocketAddress {
    /// The address in a `sockaddr_storage` (`sockaddr_in` or `sockaddr_in6`) and its length.
    package var storage: (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        switch ip {
        case .v4(let value):
            let length = withUnsafeMutableBytes(of: &storage) { raw in
                let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                address.pointee.sin_family = sa_family_t(AF_INET)
                address.pointee.sin_port = port.bigEndian
                address.pointee.sin_addr.s_addr = value.bigEndian
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
            return (storage, length)
        case .v6:
            let bytes = ip.bytes
            let length = withUnsafeMutableBytes(of: &storage) { raw in
                let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                address.pointee.sin6_family = sa_family_t(AF_INET6)
                address.pointee.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &address.pointee.sin6_addr) { $0.copyBytes(from: bytes) }
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
            return (storage, length)
        }
    }

    /// The address in a `sockaddr_storage` holding an `AF_INET` or `AF_INET6` address; nil for any
    /// other family.
    package init?(storage: sockaddr_storage) {
        let family = Int32(storage.ss_family)
        let parsed: SocketAddress? = withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET:
                let address = raw.load(as: sockaddr_in.self)
                return SocketAddress(.v4(UInt32(bigEndian: address.sin_addr.s_addr)), port: UInt16(bigEndian: address.sin_port))
            case AF_INET6:
                let address = raw.load(as: sockaddr_in6.self)
                let bytes = withUnsafeBytes(of: address.sin6_addr) { Array($0) }
                guard let ip = IPAddress(bytes: bytes) else { return nil }
                return SocketAddress(ip, port: UInt16(bigEndian: address.sin6_port))
            default:
                return nil
            }
        }
        guard let parsed else { return nil }
        self = parsed
    }
}

// MARK: - Candidates (Protocols/peer/offer-answer.md field 0x05)

extension SocketAddress {
    /// The address a peer's candidate names.
    public init(_ candidate: TransportCandidate) {
        self.init(candidate.address, port: candidate.port)
    }

    /// This address as a candidate in an offer or answer.
    public var transportCandidate: TransportCandidate {
        TransportCandidate(address: ip.unmapped, port: port)
    }
}
