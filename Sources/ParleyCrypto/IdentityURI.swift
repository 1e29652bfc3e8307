internal import ParleyWire

/// A peer's identity as a `parley:` URI, optionally with an address to dial
/// (Protocols/peer/identity.md §4):
///
/// ```
/// parley-uri   = scheme ":" public-key [ "@" address ]
/// scheme       = "parley"                                  ; any case; canonical lowercase
/// public-key   = 43base64url-char                          ; canonical, unpadded (RFC 4648 §5)
/// address      = host ":" port
/// host         = "[" IPv6address "]" / IPv4address / dns-name
/// port         = %x31-39 0*4DIGIT                          ; 1-65535, no leading zero
/// IPv4address  = dec-octet 3("." dec-octet)                 ; RFC 3986 §3.2.2: no leading zeros
/// IPv6address  = RFC 3986 §3.2.2 (RFC 4291 §2.2 text), no zone identifier
/// dns-name     = label *("." label)                        ; 1-253 characters, no trailing dot
/// label        = let-dig [*61(let-dig / "-") let-dig]      ; letters any case; canonical lowercase
/// ```
///
/// The last label of a `dns-name` must not be all digits (so `1.2.3.256` is a bad IPv4 address, not a
/// name). Parsing is strict: nothing else (white space, a path, a query, percent-encoding, `//`) is
/// accepted. `description` is the canonical form: lowercase scheme and host name, IPv6 in RFC 5952 form.
/// Parsing the canonical form gives back the same value, and a canonical string serializes to itself.
public struct IdentityURI: Hashable, Sendable, CustomStringConvertible {
    /// The URI scheme.
    public static let scheme = "parley"

    /// The peer's identity key.
    public var publicKey: IdentityPublicKey
    /// Where to reach the peer, if the URI says.
    public var address: Address?

    /// A URI for `publicKey`, with an optional address.
    public init(publicKey: IdentityPublicKey, address: Address? = nil) {
        self.publicKey = publicKey
        self.address = address
    }

    /// Parses a `parley:` URI. Throws `.malformed` for text outside the grammar and `.invalidKey` for a key
    /// of the wrong length or one no key pair can have.
    public init(parsing text: String) throws(CryptoError) {
        let bytes = Array(text.utf8)
        let prefix = Array("parley:".utf8)
        guard bytes.count >= prefix.count,
            zip(bytes, prefix).allSatisfy({ IdentityURI.lowercased($0) == $1 })
        else {
            throw .malformed(.invalidValue(field: "parley URI", reason: "must start with \"parley:\""))
        }
        let rest = bytes[prefix.count...]
        if let at = rest.firstIndex(of: UInt8(ascii: "@")) {
            publicKey = try IdentityPublicKey(base64URLBytes: rest[..<at])
            address = try Address(parsingBytes: rest[(at + 1)...])
        } else {
            publicKey = try IdentityPublicKey(base64URLBytes: rest)
            address = nil
        }
    }

    /// The canonical text: `parley:<key>` or `parley:<key>@<host>:<port>`.
    public var description: String {
        var text = "parley:" + publicKey.base64URL
        if let address { text += "@" + address.description }
        return text
    }

    // MARK: - Address

    /// A host and a UDP port to reach a peer at.
    public struct Address: Hashable, Sendable, CustomStringConvertible {
        /// The host: an IP address or a DNS name (normalized to lowercase).
        public let host: Host
        /// The UDP port, 1–65535.
        public let port: UInt16

        /// An address; throws `.malformed` for port 0, an IP address of the wrong size or a bad DNS name.
        public init(host: Host, port: UInt16) throws(CryptoError) {
            guard port != 0 else {
                throw .malformed(.invalidValue(field: "parley URI port", reason: "must be 1-65535, got 0"))
            }
            switch host {
            case .ipv4(let bytes) where bytes.count != 4:
                throw .malformed(.invalidValue(field: "parley URI host", reason: "an IPv4 address has 4 bytes, got \(bytes.count)"))
            case .ipv6(let bytes) where bytes.count != 16:
                throw .malformed(.invalidValue(field: "parley URI host", reason: "an IPv6 address has 16 bytes, got \(bytes.count)"))
            case .name(let name):
                self.host = .name(try IdentityURI.parseDNSName(Array(name.utf8)[...]))
            default:
                self.host = host
            }
            self.port = port
        }

        /// Parses `host:port` (IPv6 in brackets), the part of a `parley:` URI after `@`.
        public init(parsing text: String) throws(CryptoError) {
            try self.init(parsingBytes: Array(text.utf8)[...])
        }

        init(parsingBytes bytes: ArraySlice<UInt8>) throws(CryptoError) {
            let colon = UInt8(ascii: ":")
            let hostText: ArraySlice<UInt8>
            let portText: ArraySlice<UInt8>
            if bytes.first == UInt8(ascii: "[") {
                guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else {
                    throw IdentityURI.malformedHost("an IPv6 address opened with '[' has no ']'")
                }
                guard close + 1 < bytes.endIndex, bytes[close + 1] == colon else {
                    throw .malformed(.invalidValue(field: "parley URI port", reason: "missing: an address is host:port"))
                }
                host = .ipv6(try IdentityURI.parseIPv6(bytes[(bytes.startIndex + 1)..<close]))
                portText = bytes[(close + 2)...]
            } else {
                guard let first = bytes.firstIndex(of: colon) else {
                    throw .malformed(.invalidValue(field: "parley URI port", reason: "missing: an address is host:port"))
                }
                hostText = bytes[..<first]
                portText = bytes[(first + 1)...]
                if portText.contains(colon) {
                    throw IdentityURI.malformedHost("an IPv6 address must be enclosed in brackets, as in [2001:db8::1]:7000")
                }
                guard !hostText.isEmpty else { throw IdentityURI.malformedHost("empty") }
                if hostText.allSatisfy({ $0 == UInt8(ascii: ".") || IdentityURI.isDigit($0) }) {
                    host = .ipv4(try IdentityURI.parseIPv4(hostText))
                } else {
                    host = .name(try IdentityURI.parseDNSName(hostText))
                }
            }
            port = try IdentityURI.parsePort(portText)
        }

        /// `host:port`, with an IPv6 host in brackets.
        public var description: String {
            switch host {
            case .ipv6: "[\(host)]:\(port)"
            default: "\(host):\(port)"
            }
        }
    }

    /// A host in an address.
    public enum Host: Hashable, Sendable, CustomStringConvertible {
        /// An IPv4 address, 4 bytes in network order.
        case ipv4([UInt8])
        /// An IPv6 address, 16 bytes in network order.
        case ipv6([UInt8])
        /// A DNS name (lowercase letters, digits, hyphens and dots).
        case name(String)

        /// Dotted decimal, RFC 5952 text (without brackets), or the name.
        public var description: String {
            switch self {
            case .ipv4(let bytes): bytes.map(String.init).joined(separator: ".")
            case .ipv6(let bytes): IdentityURI.formatIPv6(bytes)
            case .name(let name): name
            }
        }
    }

    // MARK: - Parsing helpers

    static func malformedHost(_ reason: String) -> CryptoError {
        .malformed(.invalidValue(field: "parley URI host", reason: reason))
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    static func hexValue(_ byte: UInt8) -> UInt16? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt16(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt16(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt16(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// 1–65535 in decimal without a leading zero.
    static func parsePort(_ text: ArraySlice<UInt8>) throws(CryptoError) -> UInt16 {
        func bad(_ reason: String) -> CryptoError { .malformed(.invalidValue(field: "parley URI port", reason: reason)) }
        guard !text.isEmpty else { throw bad("missing: an address is host:port") }
        guard text.allSatisfy(isDigit) else { throw bad("must be decimal digits only") }
        guard text.first != UInt8(ascii: "0") else { throw bad("must be 1-65535 without leading zeros") }
        guard text.count <= 5 else { throw bad("must be 1-65535") }
        let value = text.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard value <= 65535 else { throw bad("must be 1-65535, got \(value)") }
        return UInt16(value)
    }

    /// Four decimal octets 0–255 without leading zeros.
    static func parseIPv4(_ text: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            throw malformedHost("an IPv4 address has four dot-separated numbers")
        }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(isDigit) else {
                throw malformedHost("an IPv4 address has four numbers 0-255")
            }
            guard part.count == 1 || part.first != UInt8(ascii: "0") else {
                throw malformedHost("an IPv4 number has no leading zeros")
            }
            let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value <= 255 else { throw malformedHost("an IPv4 number is 0-255, got \(value)") }
            bytes.append(UInt8(value))
        }
        return bytes
    }

    /// RFC 4291 §2.2 text: eight 1–4 digit hex groups, at most one "::", optionally ending in an IPv4 address.
    static func parseIPv6(_ text: ArraySlice<UInt8>) throws(CryptoError) -> [UInt8] {
        if text.contains(UInt8(ascii: "%")) {
            throw malformedHost("IPv6 zone identifiers are not allowed")
        }
        // Split around the one "::", if any.
        var doubleColon: ArraySlice<UInt8>.Index?
        var index = text.startIndex
        while index + 1 < text.endIndex {
            if text[index] == UInt8(ascii: ":"), text[index + 1] == UInt8(ascii: ":") {
                guard doubleColon == nil else { throw malformedHost("an IPv6 address has at most one \"::\"") }
                doubleColon = index
                index += 2
            } else {
                index += 1
            }
        }
        let head = doubleColon.map { text[..<$0] } ?? text
        let tail = doubleColon.map { text[($0 + 2)...] } ?? text[text.endIndex...]

        func groups(_ part: ArraySlice<UInt8>, mayEndInIPv4: Bool) throws(CryptoError) -> [UInt16] {
            guard !part.isEmpty else { return [] }
            let pieces = part.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            var result: [UInt16] = []
            for (number, piece) in pieces.enumerated() {
                if number == pieces.count - 1, mayEndInIPv4, piece.contains(UInt8(ascii: ".")) {
                    let v4 = try parseIPv4(piece)
                    result += [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                    continue
                }
                guard !piece.isEmpty, piece.count <= 4 else {
                    throw malformedHost("an IPv6 group has 1-4 hex digits")
                }
                var value: UInt16 = 0
                for byte in piece {
                    guard let digit = hexValue(byte) else { throw malformedHost("an IPv6 group has 1-4 hex digits") }
                    value = value << 4 | digit
                }
                result.append(value)
            }
            return result
        }

        let headGroups = try groups(head, mayEndInIPv4: doubleColon == nil)
        let tailGroups = try groups(tail, mayEndInIPv4: true)
        var all: [UInt16]
        if doubleColon != nil {
            guard headGroups.count + tailGroups.count <= 7 else {
                throw malformedHost("an IPv6 address has at most 7 groups besides \"::\"")
            }
            all = headGroups + [UInt16](repeating: 0, count: 8 - headGroups.count - tailGroups.count) + tailGroups
        } else {
            guard headGroups.count == 8 else { throw malformedHost("an IPv6 address without \"::\" has 8 groups") }
            all = headGroups
        }
        return all.flatMap { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
    }

    /// RFC 5952 §4 text: lowercase, no leading zeros, the longest run (first if tied) of two or more zero
    /// groups as "::"; IPv4-mapped addresses (::ffff:0:0/96) end in dotted decimal (§5).
    static func formatIPv6(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return "" }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return "::ffff:" + bytes[12..<16].map(String.init).joined(separator: ".")
        }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1
        var bestLength = 1
        var start = 0
        while start < 8 {
            guard groups[start] == 0 else { start += 1; continue }
            var end = start
            while end < 8, groups[end] == 0 { end += 1 }
            if end - start > bestLength {
                bestStart = start
                bestLength = end - start
            }
            start = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        return hex[..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLength)...].joined(separator: ":")
    }

    /// A DNS host name (RFC 1123 §2.1 letters, digits and hyphens), lowercased.
    static func parseDNSName(_ text: ArraySlice<UInt8>) throws(CryptoError) -> String {
        guard !text.isEmpty, text.count <= 253 else {
            throw malformedHost("a DNS name has 1-253 characters")
        }
        let labels = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        var lowered: [UInt8] = []
        for (number, label) in labels.enumerated() {
            guard !label.isEmpty, label.count <= 63 else {
                throw malformedHost("a DNS label has 1-63 characters (no empty label, no trailing dot)")
            }
            for byte in label {
                let lower = lowercased(byte)
                guard isDigit(lower) || (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || lower == UInt8(ascii: "-") else {
                    throw malformedHost("a DNS name has only letters, digits, hyphens and dots (byte 0x\(Base64URL.hexByte(byte)))")
                }
            }
            guard label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else {
                throw malformedHost("a DNS label does not start or end with a hyphen")
            }
            if number == labels.count - 1, label.allSatisfy(isDigit) {
                throw malformedHost("the last label of a DNS name is not all digits")
            }
            if number > 0 { lowered.append(UInt8(ascii: ".")) }
            lowered += label.map(lowercased)
        }
        return String(decoding: lowered, as: UTF8.self)
    }
}
