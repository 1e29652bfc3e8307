public import ParleyCrypto
public import ParleyRTP
public import ParleyWire

/// The call parameters one side sends in the handshake: the *offer* in message 1, the *answer* in
/// message 2 (Protocols/peer/offer-answer.md).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     role      |    version    |        fields length          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      type     |            length             |  value ...    |  one field (TLV),
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+               +  repeated until
/// |                 ... (length bytes)                            |  fields length is used
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// A field type with the top bit set (0x80…0xFF) is *required*: a receiver that does not know it fails.
/// An unknown type below 0x80 is skipped. A value, once constructed or parsed, satisfies every rule of the
/// specification (limits, payload types, SSRC uniqueness, role-specific fields), so `serialize()` cannot
/// fail and its output always fits the handshake.
public struct CallParameters: Equatable, Sendable {
    /// Offer (handshake message 1) or answer (message 2).
    public enum Role: UInt8, Sendable {
        case offer = 0x01
        case answer = 0x02
    }

    /// The only version this implementation writes and reads.
    public static let currentVersion: UInt8 = 1
    /// Bytes before the first field.
    public static let headerSize = 4
    /// Bytes before a field's value.
    public static let fieldHeaderSize = 3
    /// The largest serialized offer or answer: fits one 1232-byte IPv6 datagram with the handshake's
    /// overhead (handshake.md §3), and so both `HandshakeInitiation.maximumOfferSize` and
    /// `HandshakeResponse.maximumAnswerSize`.
    public static let maximumSize = 1104
    /// Most media streams one side may announce.
    public static let maximumStreams = 16
    /// Most candidate transport addresses.
    public static let maximumCandidates = 8
    /// Most header extension mappings.
    public static let maximumHeaderExtensions = 16
    /// Most entries in the SRTP-profile and SFrame-suite lists.
    public static let maximumSuites = 8

    /// Offer or answer.
    public let role: Role
    /// Protocol version (1).
    public let version: UInt8
    /// The media streams this side will send.
    public let streams: [MediaStreamDescription]
    /// The RTP header extension ids this side uses in what it sends (RFC 8285 `extmap`).
    public let headerExtensions: [HeaderExtensionMapping]
    /// SRTP protection profiles (IANA "DTLS-SRTP Protection Profiles" ids), most preferred first.
    public let srtpProfiles: [UInt16]
    /// SFrame cipher suites (IANA, RFC 9605 §8.1), most preferred first.
    public let sframeCipherSuites: [UInt16]
    /// Transport addresses this side can receive on.
    public let candidates: [TransportCandidate]
    /// Optional features this side supports.
    public let capabilities: CallCapabilities
    /// Answer only: the SRTP profile both sides use (nil in an offer or a declined answer).
    public let chosenSRTPProfile: UInt16?
    /// Answer only: the SFrame suite both sides use (nil in an offer or a declined answer).
    public let chosenSFrameCipherSuite: UInt16?
    /// Answer only: the SSRCs of the offer's streams the answerer will receive.
    public let acceptedSSRCs: [SSRC]
    /// Answer only: why the call is declined (nil if it is accepted).
    public let declineReason: DeclineReason?

    /// An offer.
    ///
    /// - Throws: `WireError.invalidValue` naming the field that breaks a rule of offer-answer.md.
    public static func offer(
        streams: [MediaStreamDescription], headerExtensions: [HeaderExtensionMapping] = HeaderExtensionMapping.parleyDefault,
        srtpProfiles: [UInt16] = [0x0007, 0x0001], sframeCipherSuites: [UInt16] = [0x0004],
        candidates: [TransportCandidate] = [], capabilities: CallCapabilities = []
    ) throws(WireError) -> CallParameters {
        try CallParameters(
            role: .offer, version: currentVersion, streams: streams, headerExtensions: headerExtensions,
            srtpProfiles: srtpProfiles, sframeCipherSuites: sframeCipherSuites, candidates: candidates,
            capabilities: capabilities, chosenSRTPProfile: nil, chosenSFrameCipherSuite: nil, acceptedSSRCs: [],
            declineReason: nil)
    }

    /// An accepting answer.
    ///
    /// - Throws: `WireError.invalidValue` naming the field that breaks a rule of offer-answer.md.
    public static func answer(
        chosenSRTPProfile: UInt16, chosenSFrameCipherSuite: UInt16, acceptedSSRCs: [SSRC],
        streams: [MediaStreamDescription], headerExtensions: [HeaderExtensionMapping],
        candidates: [TransportCandidate] = [], capabilities: CallCapabilities = []
    ) throws(WireError) -> CallParameters {
        try CallParameters(
            role: .answer, version: currentVersion, streams: streams, headerExtensions: headerExtensions,
            srtpProfiles: [], sframeCipherSuites: [], candidates: candidates, capabilities: capabilities,
            chosenSRTPProfile: chosenSRTPProfile, chosenSFrameCipherSuite: chosenSFrameCipherSuite,
            acceptedSSRCs: acceptedSSRCs, declineReason: nil)
    }

    /// An answer declining the call for `reason`.
    public static func decline(_ reason: DeclineReason) -> CallParameters {
        // A decline has no other field, so it cannot break a rule.
        try! CallParameters(
            role: .answer, version: currentVersion, streams: [], headerExtensions: [], srtpProfiles: [],
            sframeCipherSuites: [], candidates: [], capabilities: [], chosenSRTPProfile: nil,
            chosenSFrameCipherSuite: nil, acceptedSSRCs: [], declineReason: reason)
    }

    /// Parameters with every field given, checked against every rule.
    ///
    /// - Throws: `WireError.invalidValue` naming the first field that breaks a rule.
    public init(
        role: Role, version: UInt8 = CallParameters.currentVersion, streams: [MediaStreamDescription],
        headerExtensions: [HeaderExtensionMapping], srtpProfiles: [UInt16], sframeCipherSuites: [UInt16],
        candidates: [TransportCandidate], capabilities: CallCapabilities, chosenSRTPProfile: UInt16?,
        chosenSFrameCipherSuite: UInt16?, acceptedSSRCs: [SSRC], declineReason: DeclineReason?
    ) throws(WireError) {
        self.role = role
        self.version = version
        self.streams = streams
        self.headerExtensions = headerExtensions
        self.srtpProfiles = srtpProfiles
        self.sframeCipherSuites = sframeCipherSuites
        self.candidates = candidates
        self.capabilities = capabilities
        self.chosenSRTPProfile = chosenSRTPProfile
        self.chosenSFrameCipherSuite = chosenSFrameCipherSuite
        self.acceptedSSRCs = acceptedSSRCs
        self.declineReason = declineReason
        try validate()
    }

    /// Whether this is an answer that declines the call.
    public var isDeclined: Bool { declineReason != nil }

    /// Every SSRC this side sends from: media streams and their RTX streams.
    public var sendingSSRCs: [SSRC] {
        streams.flatMap { stream in [stream.ssrc] + (stream.retransmission.map { [$0.ssrc] } ?? []) }
    }

    /// The header extension mapping as a registry for the RTP layer.
    public var extensionRegistry: RTPExtensionRegistry {
        // Ids and URIs were checked unique and non-zero in `validate()`.
        try! RTPExtensionRegistry(Dictionary(uniqueKeysWithValues: headerExtensions.map { ($0.id, $0.uri) }))
    }

    // MARK: Rules

    private func validate() throws(WireError) {
        guard version == Self.currentVersion else {
            throw .invalidValue(field: "version", reason: "must be \(Self.currentVersion), got \(version)")
        }
        try Self.limit("media stream", streams.count, Self.maximumStreams)
        try Self.limit("candidate", candidates.count, Self.maximumCandidates)
        try Self.limit("header extension", headerExtensions.count, Self.maximumHeaderExtensions)
        try Self.limit("SRTP profile", srtpProfiles.count, Self.maximumSuites)
        try Self.limit("SFrame cipher suite", sframeCipherSuites.count, Self.maximumSuites)
        try Self.limit("accepted SSRC", acceptedSSRCs.count, Self.maximumStreams)
        try Self.unique("SRTP profile", srtpProfiles.map { "\($0)" })
        try Self.unique("SFrame cipher suite", sframeCipherSuites.map { "\($0)" })
        try Self.unique("accepted SSRC", acceptedSSRCs.map(\.description))
        for stream in streams { try stream.validate() }
        try Self.unique("SSRC", sendingSSRCs.map(\.description))
        var codecsByPayloadType: [UInt8: String] = [:]
        for stream in streams {
            var pairs = [(stream.payloadType, "\(stream.codec)")]
            if let rtx = stream.retransmission { pairs.append((rtx.payloadType, "rtx/\(stream.payloadType)")) }
            for (payloadType, meaning) in pairs {
                if let earlier = codecsByPayloadType[payloadType], earlier != meaning {
                    throw .invalidValue(field: "payload type", reason: "\(payloadType) used for \(earlier) and \(meaning)")
                }
                codecsByPayloadType[payloadType] = meaning
            }
        }
        for mapping in headerExtensions { try mapping.validate() }
        try Self.unique("header extension id", headerExtensions.map { "\($0.id)" })
        try Self.unique("header extension URI", headerExtensions.map(\.uri))
        for candidate in candidates { try candidate.validate() }
        switch role {
        case .offer:
            for (present, field) in [
                (chosenSRTPProfile != nil, "chosen SRTP profile"), (chosenSFrameCipherSuite != nil, "chosen SFrame cipher suite"),
                (!acceptedSSRCs.isEmpty, "accepted SSRCs"), (declineReason != nil, "decline reason"),
            ] where present {
                throw .invalidValue(field: field, reason: "answer-only field in an offer")
            }
            guard !srtpProfiles.isEmpty else { throw .invalidValue(field: "SRTP profiles", reason: "missing from offer") }
            guard !sframeCipherSuites.isEmpty else {
                throw .invalidValue(field: "SFrame cipher suites", reason: "missing from offer")
            }
        case .answer:
            guard srtpProfiles.isEmpty, sframeCipherSuites.isEmpty else {
                throw .invalidValue(field: srtpProfiles.isEmpty ? "SFrame cipher suites" : "SRTP profiles",
                                    reason: "offer-only field in an answer")
            }
            if declineReason != nil {
                let other = !streams.isEmpty || !headerExtensions.isEmpty || !candidates.isEmpty
                    || !capabilities.isEmpty || chosenSRTPProfile != nil || chosenSFrameCipherSuite != nil
                    || !acceptedSSRCs.isEmpty
                guard !other else {
                    throw .invalidValue(field: "decline reason", reason: "a declining answer carries no other field")
                }
            } else {
                guard chosenSRTPProfile != nil else {
                    throw .invalidValue(field: "chosen SRTP profile", reason: "missing from answer")
                }
                guard chosenSFrameCipherSuite != nil else {
                    throw .invalidValue(field: "chosen SFrame cipher suite", reason: "missing from answer")
                }
            }
        }
        let size = serializedSize
        guard size <= Self.maximumSize else {
            throw .invalidValue(field: "call parameters", reason: "\(size) bytes, at most \(Self.maximumSize)")
        }
    }

    private static func limit(_ field: String, _ count: Int, _ maximum: Int) throws(WireError) {
        guard count <= maximum else { throw .invalidValue(field: field, reason: "\(count) present, at most \(maximum)") }
    }

    private static func unique(_ field: String, _ values: [String]) throws(WireError) {
        var seen: Set<String> = []
        for value in values where !seen.insert(value).inserted {
            throw .invalidValue(field: field, reason: "\(value) appears twice")
        }
    }
}

// MARK: - Wire format

/// The field (TLV) types of offer-answer.md §3.
public enum CallParameterField: UInt8, Sendable, CaseIterable {
    case mediaStream = 0x01
    case headerExtension = 0x02
    case srtpProfiles = 0x03
    case sframeCipherSuites = 0x04
    case candidate = 0x05
    case capabilities = 0x06
    case chosenSRTPProfile = 0x07
    case chosenSFrameCipherSuite = 0x08
    case acceptedSSRCs = 0x09
    case declineReason = 0x0A

    /// Types at or above this are required: an unknown one is an error, not skipped.
    public static let requiredBit: UInt8 = 0x80

    /// The field's name, as errors and offer-answer.md §3 give it.
    public var name: String {
        switch self {
        case .mediaStream: "media stream"
        case .headerExtension: "header extension"
        case .srtpProfiles: "SRTP profiles"
        case .sframeCipherSuites: "SFrame cipher suites"
        case .candidate: "candidate"
        case .capabilities: "capabilities"
        case .chosenSRTPProfile: "chosen SRTP profile"
        case .chosenSFrameCipherSuite: "chosen SFrame cipher suite"
        case .acceptedSSRCs: "accepted SSRCs"
        case .declineReason: "decline reason"
        }
    }

    /// Whether the type may appear more than once.
    public var isRepeatable: Bool { self == .mediaStream || self == .headerExtension || self == .candidate }
}

extension CallParameters {
    /// Parses an offer or answer (the whole buffer).
    ///
    /// - Throws: `WireError` naming the field that is truncated, unknown-and-required, duplicated or
    ///   breaks a rule.
    public init(parsing bytes: ArraySlice<UInt8>) throws(WireError) {
        guard bytes.count <= Self.maximumSize else {
            throw .invalidValue(field: "call parameters", reason: "\(bytes.count) bytes, at most \(Self.maximumSize)")
        }
        var reader = ByteReader(bytes)
        let roleByte = try reader.readUInt8("role")
        guard let role = Role(rawValue: roleByte) else {
            throw .invalidValue(field: "role", reason: "must be 1 (offer) or 2 (answer), got \(roleByte)")
        }
        let version = try reader.readUInt8("version")
        guard version == Self.currentVersion else {
            throw .invalidValue(field: "version", reason: "must be \(Self.currentVersion), got \(version)")
        }
        let length = Int(try reader.readUInt16("fields length"))
        guard length == reader.remaining else {
            throw .lengthMismatch(field: "fields length", declared: length, actual: reader.remaining)
        }
        var streams: [MediaStreamDescription] = []
        var extensions: [HeaderExtensionMapping] = []
        var srtpProfiles: [UInt16] = []
        var sframeSuites: [UInt16] = []
        var candidates: [TransportCandidate] = []
        var capabilities: CallCapabilities = []
        var chosenSRTP: UInt16?
        var chosenSFrame: UInt16?
        var accepted: [SSRC] = []
        var decline: DeclineReason?
        var seen: Set<UInt8> = []
        while !reader.isAtEnd {
            let type = try reader.readUInt8("field type")
            let valueLength = Int(try reader.readUInt16("field length"))
            let value = try reader.readBytes(valueLength, "field value")
            guard let field = CallParameterField(rawValue: type) else {
                guard type & CallParameterField.requiredBit == 0 else {
                    throw .invalidValue(field: "field 0x\(String(type, radix: 16))", reason: "unknown required field")
                }
                continue
            }
            guard field.isRepeatable || seen.insert(type).inserted else {
                throw .invalidValue(field: field.name, reason: "appears twice")
            }
            var fieldReader = ByteReader(value)
            switch field {
            case .mediaStream:
                guard streams.count < Self.maximumStreams else {
                    throw .invalidValue(field: "media stream", reason: "more than \(Self.maximumStreams)")
                }
                streams.append(try MediaStreamDescription(parsing: value))
            case .headerExtension:
                guard extensions.count < Self.maximumHeaderExtensions else {
                    throw .invalidValue(field: "header extension", reason: "more than \(Self.maximumHeaderExtensions)")
                }
                extensions.append(try HeaderExtensionMapping(parsing: value))
            case .srtpProfiles:
                srtpProfiles = try Self.readList(value, "SRTP profiles")
            case .sframeCipherSuites:
                sframeSuites = try Self.readList(value, "SFrame cipher suites")
            case .candidate:
                guard candidates.count < Self.maximumCandidates else {
                    throw .invalidValue(field: "candidate", reason: "more than \(Self.maximumCandidates)")
                }
                candidates.append(try TransportCandidate(parsing: value))
            case .capabilities:
                try Self.exactLength(value, 4, "capabilities")
                capabilities = CallCapabilities(rawValue: try fieldReader.readUInt32("capabilities"))
            case .chosenSRTPProfile:
                try Self.exactLength(value, 2, "chosen SRTP profile")
                chosenSRTP = try fieldReader.readUInt16("chosen SRTP profile")
            case .chosenSFrameCipherSuite:
                try Self.exactLength(value, 2, "chosen SFrame cipher suite")
                chosenSFrame = try fieldReader.readUInt16("chosen SFrame cipher suite")
            case .acceptedSSRCs:
                guard !value.isEmpty, value.count % 4 == 0 else {
                    throw .invalidValue(field: "accepted SSRCs", reason: "\(value.count) bytes: a non-empty list of SSRCs")
                }
                while !fieldReader.isAtEnd { accepted.append(SSRC(try fieldReader.readUInt32("accepted SSRC"))) }
            case .declineReason:
                try Self.exactLength(value, 1, "decline reason")
                decline = DeclineReason(rawValue: try fieldReader.readUInt8("decline reason"))
            }
        }
        try self.init(
            role: role, version: version, streams: streams, headerExtensions: extensions, srtpProfiles: srtpProfiles,
            sframeCipherSuites: sframeSuites, candidates: candidates, capabilities: capabilities,
            chosenSRTPProfile: chosenSRTP, chosenSFrameCipherSuite: chosenSFrame, acceptedSSRCs: accepted,
            declineReason: decline)
    }

    /// Parses an offer or answer.
    public init(parsing bytes: [UInt8]) throws(WireError) {
        try self.init(parsing: bytes[...])
    }

    private static func exactLength(_ value: ArraySlice<UInt8>, _ size: Int, _ field: StaticString) throws(WireError) {
        guard value.count == size else { throw .lengthMismatch(field: "\(field)", declared: value.count, actual: size) }
    }

    private static func readList(_ value: ArraySlice<UInt8>, _ field: StaticString) throws(WireError) -> [UInt16] {
        guard !value.isEmpty, value.count % 2 == 0 else {
            throw .invalidValue(field: "\(field)", reason: "\(value.count) bytes: a non-empty list of 16-bit ids")
        }
        var reader = ByteReader(value)
        var list: [UInt16] = []
        while !reader.isAtEnd { list.append(try reader.readUInt16(field)) }
        return list
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int {
        var size = Self.headerSize
        size += streams.reduce(0) { $0 + Self.fieldHeaderSize + $1.serializedSize }
        size += headerExtensions.reduce(0) { $0 + Self.fieldHeaderSize + $1.serializedSize }
        if !srtpProfiles.isEmpty { size += Self.fieldHeaderSize + 2 * srtpProfiles.count }
        if !sframeCipherSuites.isEmpty { size += Self.fieldHeaderSize + 2 * sframeCipherSuites.count }
        size += candidates.reduce(0) { $0 + Self.fieldHeaderSize + $1.serializedSize }
        if !capabilities.isEmpty { size += Self.fieldHeaderSize + 4 }
        if chosenSRTPProfile != nil { size += Self.fieldHeaderSize + 2 }
        if chosenSFrameCipherSuite != nil { size += Self.fieldHeaderSize + 2 }
        if !acceptedSSRCs.isEmpty { size += Self.fieldHeaderSize + 4 * acceptedSSRCs.count }
        if declineReason != nil { size += Self.fieldHeaderSize + 1 }
        return size
    }

    /// The offer or answer as carried in the handshake payload.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: serializedSize)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the offer or answer to `writer`. Fields go in type order; within a type, in list order.
    public func serialize(into writer: inout ByteWriter) {
        writer.writeUInt8(role.rawValue)
        writer.writeUInt8(version)
        writer.writeUInt16(UInt16(serializedSize - Self.headerSize))
        func field(_ type: CallParameterField, _ length: Int, _ body: (inout ByteWriter) -> Void) {
            writer.writeUInt8(type.rawValue)
            writer.writeUInt16(UInt16(length))
            body(&writer)
        }
        for stream in streams {
            field(.mediaStream, stream.serializedSize) { stream.serialize(into: &$0) }
        }
        for mapping in headerExtensions {
            field(.headerExtension, mapping.serializedSize) { mapping.serialize(into: &$0) }
        }
        if !srtpProfiles.isEmpty {
            field(.srtpProfiles, 2 * srtpProfiles.count) { w in for id in srtpProfiles { w.writeUInt16(id) } }
        }
        if !sframeCipherSuites.isEmpty {
            field(.sframeCipherSuites, 2 * sframeCipherSuites.count) { w in
                for id in sframeCipherSuites { w.writeUInt16(id) }
            }
        }
        for candidate in candidates {
            field(.candidate, candidate.serializedSize) { candidate.serialize(into: &$0) }
        }
        if !capabilities.isEmpty {
            field(.capabilities, 4) { $0.writeUInt32(capabilities.rawValue) }
        }
        if let chosenSRTPProfile {
            field(.chosenSRTPProfile, 2) { $0.writeUInt16(chosenSRTPProfile) }
        }
        if let chosenSFrameCipherSuite {
            field(.chosenSFrameCipherSuite, 2) { $0.writeUInt16(chosenSFrameCipherSuite) }
        }
        if !acceptedSSRCs.isEmpty {
            field(.acceptedSSRCs, 4 * acceptedSSRCs.count) { w in for ssrc in acceptedSSRCs { w.writeUInt32(ssrc.rawValue) } }
        }
        if let declineReason {
            field(.declineReason, 1) { $0.writeUInt8(declineReason.rawValue) }
        }
    }
}
