public import ParleyCrypto
import ParleyRTP
public import ParleyWire

/// What the answering side supports and will send: the input of `CallParameters.answer(to:with:)`.
public struct LocalCallCapabilities: Equatable, Sendable {
    /// SRTP protection profiles this side supports (IANA ids).
    public var srtpProfiles: Set<UInt16>
    /// SFrame cipher suites this side supports (IANA ids).
    public var sframeCipherSuites: Set<UInt16>
    /// Codecs this side can receive.
    public var receiveCodecs: Set<CodecID>
    /// Header extension URIs this side understands.
    public var headerExtensionURIs: Set<String>
    /// The streams this side will send if the call is accepted.
    public var streams: [MediaStreamDescription]
    /// Where this side receives.
    public var candidates: [TransportCandidate]
    /// Optional features this side supports.
    public var capabilities: CallCapabilities

    public init(
        srtpProfiles: Set<UInt16> = [0x0007, 0x0001], sframeCipherSuites: Set<UInt16> = [1, 2, 3, 4, 5],
        receiveCodecs: Set<CodecID> = [.opus, .vp8],
        headerExtensionURIs: Set<String> = Set(HeaderExtensionMapping.parleyDefault.map(\.uri)),
        streams: [MediaStreamDescription], candidates: [TransportCandidate] = [], capabilities: CallCapabilities = []
    ) {
        self.srtpProfiles = srtpProfiles
        self.sframeCipherSuites = sframeCipherSuites
        self.receiveCodecs = receiveCodecs
        self.headerExtensionURIs = headerExtensionURIs
        self.streams = streams
        self.candidates = candidates
        self.capabilities = capabilities
    }
}

extension CallParameters {
    /// The answer to `offer` from a side with capabilities `local` (offer-answer.md §5).
    ///
    /// - Returns: an accepting answer, or a declining one (`declineReason` set) when no SRTP profile, no
    ///   SFrame suite or no stream is in common.
    /// - Throws: `WireError.invalidValue` if `offer` is not an offer, if an SSRC of `local.streams` is one
    ///   the offer also sends from (pick other SSRCs and negotiate again), or if the answer would break a
    ///   rule (e.g. invalid local streams).
    public static func answer(to offer: CallParameters, with local: LocalCallCapabilities) throws(WireError) -> CallParameters {
        guard offer.role == .offer else { throw .invalidValue(field: "role", reason: "negotiation needs an offer") }
        guard let srtp = offer.srtpProfiles.first(where: local.srtpProfiles.contains) else {
            return .decline(.noCommonSRTPProfile)
        }
        guard let sframe = offer.sframeCipherSuites.first(where: local.sframeCipherSuites.contains) else {
            return .decline(.noCommonSFrameCipherSuite)
        }
        let offered = Set(offer.sendingSSRCs)
        for stream in local.streams {
            for ssrc in [stream.ssrc] + (stream.retransmission.map { [$0.ssrc] } ?? []) where offered.contains(ssrc) {
                throw .invalidValue(field: "SSRC", reason: "\(ssrc) is used by both sides")
            }
        }
        let accepted = offer.streams.filter { local.receiveCodecs.contains($0.codec) }.map(\.ssrc)
        guard !accepted.isEmpty || !local.streams.isEmpty else { return .decline(.noCommonStreams) }
        return try .answer(
            chosenSRTPProfile: srtp, chosenSFrameCipherSuite: sframe, acceptedSSRCs: accepted, streams: local.streams,
            headerExtensions: offer.headerExtensions.filter { local.headerExtensionURIs.contains($0.uri) },
            candidates: local.candidates,
            capabilities: offer.capabilities.intersection(local.capabilities).intersection(.known))
    }

    /// Checks, on the offering side, that `answer` answers this offer (offer-answer.md §5.2): chosen
    /// profile and suite are among those offered, accepted SSRCs are offered streams, no SSRC is used by
    /// both sides, and header extensions use the offer's ids.
    ///
    /// - Throws: `WireError.invalidValue` naming the field that does not match.
    public func check(answer: CallParameters) throws(WireError) {
        guard role == .offer else { throw .invalidValue(field: "role", reason: "only an offer checks an answer") }
        guard answer.role == .answer else { throw .invalidValue(field: "role", reason: "expected an answer") }
        guard !answer.isDeclined else { return }
        if let chosen = answer.chosenSRTPProfile, !srtpProfiles.contains(chosen) {
            throw .invalidValue(field: "chosen SRTP profile", reason: "\(chosen) was not offered")
        }
        if let chosen = answer.chosenSFrameCipherSuite, !sframeCipherSuites.contains(chosen) {
            throw .invalidValue(field: "chosen SFrame cipher suite", reason: "\(chosen) was not offered")
        }
        let offeredStreams = Set(streams.map(\.ssrc))
        for ssrc in answer.acceptedSSRCs where !offeredStreams.contains(ssrc) {
            throw .invalidValue(field: "accepted SSRC", reason: "\(ssrc) was not offered")
        }
        let ours = Set(sendingSSRCs)
        for ssrc in answer.sendingSSRCs where ours.contains(ssrc) {
            throw .invalidValue(field: "SSRC", reason: "\(ssrc) is used by both sides")
        }
        for mapping in answer.headerExtensions where !headerExtensions.contains(mapping) {
            throw .invalidValue(field: "header extension", reason: "\(mapping.id) → \(mapping.uri) was not offered")
        }
    }
}
