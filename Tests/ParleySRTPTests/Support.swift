import Foundation
import ParleyRTP
import ParleySRTP
import ParleyWire
import Testing

/// The bytes written in `text` as hex; spaces and newlines are ignored.
func hex(_ text: String) -> [UInt8] {
    guard let bytes = [UInt8](hexString: text) else { preconditionFailure("bad hex in a test: \(text)") }
    return bytes
}

/// A master key and salt of the right sizes for `suite`, different for each `seed`.
func keyMaterial(_ suite: SRTPSuite, seed: UInt8 = 1) -> (key: [UInt8], salt: [UInt8]) {
    let key = (0..<suite.masterKeyLength).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ Int(seed)) }
    let salt = (0..<suite.masterSaltLength).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ Int(seed) &+ 0x80) }
    return (key, salt)
}

/// A sender and a receiver sharing one key.
func contextPair(
    _ suite: SRTPSuite, seed: UInt8 = 1, streams: SRTPContext.Streams = .any
) throws -> (sender: SRTPContext, receiver: SRTPContext) {
    let (key, salt) = keyMaterial(suite, seed: seed)
    return (
        try SRTPContext(direction: .outbound, suite: suite, masterKey: key, masterSalt: salt, streams: streams),
        try SRTPContext(direction: .inbound, suite: suite, masterKey: key, masterSalt: salt, streams: streams)
    )
}

/// The SSRC the tests send from unless they say otherwise.
let testSSRC = SSRC(0xCAFE_F00D)

/// An RTP packet of stream `ssrc` with sequence number `sequence` and a patterned payload of `size` bytes.
func rtpPacket(sequence: UInt16, size: Int = 40, ssrc: SSRC = testSSRC) -> [UInt8] {
    let header = RTPHeader(
        marker: sequence % 7 == 0, payloadType: 111, sequenceNumber: SequenceNumber(sequence),
        timestamp: RTPTimestamp(UInt32(sequence) &* 960), ssrc: ssrc)
    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(sequence)) }
    return RTPPacket(header: header, payload: payload).serialize()
}

/// An RTCP receiver report from `ssrc` with one report block about 0x0BADCAFE (32 bytes).
func rtcpPacket(ssrc: SSRC = testSSRC, lost: UInt8 = 0) -> [UInt8] {
    [0x81, 201, 0x00, 0x07] + bytes(ssrc.rawValue)
        + [0x0B, 0xAD, 0xCA, 0xFE, lost, 0x00, 0x00, 0x03, 0x00, 0x01, 0xFF, 0xFF]
        + [0x00, 0x00, 0x00, 0x20, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x01, 0x00]
}

/// `value` as 4 big-endian bytes.
func bytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

/// Runs `body`, expecting it to throw exactly `expected`.
func expectError<T>(_ expected: SRTPError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(SRTPError) -> T) {
    do {
        _ = try body()
        Issue.record("expected \(expected), but it succeeded", sourceLocation: sourceLocation)
    } catch {
        #expect(error == expected, sourceLocation: sourceLocation)
    }
}

/// Statistics with the given counts and zero elsewhere.
func stats(
    protected: Int = 0, unprotected: Int = 0, authenticationFailures: Int = 0, replays: Int = 0, malformed: Int = 0,
    unknownSSRC: Int = 0, otherFailures: Int = 0
) -> SRTPContext.Statistics {
    var statistics = SRTPContext.Statistics()
    statistics.protected = protected
    statistics.unprotected = unprotected
    statistics.authenticationFailures = authenticationFailures
    statistics.replays = replays
    statistics.malformed = malformed
    statistics.unknownSSRC = unknownSSRC
    statistics.otherFailures = otherFailures
    return statistics
}

/// The known answers of `Fixtures/srtp-known-answers.json` (see `Fixtures/README.md`).
struct KnownAnswers: Decodable {
    struct Packet: Decodable {
        var plain: String
        var protected: String
    }

    struct Case: Decodable {
        var suite: String
        var masterKey: String
        var masterSalt: String
        var ssrc: UInt32
        var rtp: [Packet]
        var rtcp: [Packet]
    }

    var producedBy: String
    var cases: [Case]

    static func load() throws -> KnownAnswers {
        let url = try #require(
            Bundle.module.url(forResource: "srtp-known-answers", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(KnownAnswers.self, from: Data(contentsOf: url))
    }

    static func loadCase(_ suite: SRTPSuite) throws -> Case {
        try #require(try load().cases.first { $0.suite == suite.rawValue }, "no \(suite) case in the fixture")
    }
}
