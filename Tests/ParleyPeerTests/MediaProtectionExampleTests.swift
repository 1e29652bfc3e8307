import Foundation
import ParleyCrypto
import ParleyRTP
import ParleySRTP
import ParleyWire
import Testing

/// The worked example of Protocols/peer/v1.md §3.1: one Opus packet through SFrame, RTP and SRTP with
/// the keys of the §2 example announcement (as an audio stream). Every step is deterministic (the SFrame
/// nonce comes from the CTR, the SRTP GCM IV from the salt, SSRC and packet index), so the implementation
/// must still produce exactly these bytes, and the specification must still show them.
@Suite struct MediaProtectionExampleTests {
    static let ssrc = SSRC(0xCAFE_BABE)
    static let keyID: UInt64 = 7
    static let baseKey = (0x00...0x1F).map { UInt8($0) }
    static let srtpKey = (0x20...0x2F).map { UInt8($0) }
    static let srtpSalt = (0x30...0x3B).map { UInt8($0) }
    /// A stand-in Opus packet: TOC byte 0x78, then 0x01…0x13.
    static let opusPacket: [UInt8] = [0x78] + (0x01...0x13).map { UInt8($0) }

    static let announcement = """
        01010004cafebabe0000000000000007000720100c000102030405060708090a0b0c0d0e0f101112131415161718191a1b\
        1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b
        """
    static let opus = "780102030405060708090a0b0c0d0e0f10111213"
    static let sframeHeader = "70"
    static let sframeOutput = "70a91a84314cb21642cb5c2f02778490c180a179eed3d4c4f0ec3e377a712ca9d3fce672b2"
    static let rtpPacket = """
        80ef0001000003c0cafebabe70a91a84314cb21642cb5c2f02778490c180a179eed3d4c4f0ec3e377a712ca9d3fce672b2
        """
    static let srtpDatagram = """
        80ef0001000003c0cafebabebe1bd4d81a87d6fa6faa17ca5b603718234073c065a680d4377c246a94f17d8c266da14dd4\
        3dc776568ad02878e6f775bbafd5a54f
        """

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.hexString
    }

    private static func compact(_ text: String) -> String {
        String(text.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) })
    }

    private struct Run {
        var announcement: [UInt8]
        var sframeHeader: [UInt8]
        var sframeOutput: [UInt8]
        var rtpPacket: [UInt8]
        var srtpDatagram: [UInt8]
    }

    private static func run() throws -> Run {
        let announcement = SenderKeyAnnouncement(
            mediaKind: .audio, ssrc: ssrc, keyID: keyID, sframeCipherSuite: SuiteIdentifier.sframeAES128GCM,
            sframeBaseKey: baseKey, srtpProtectionProfile: SuiteIdentifier.srtpAEADAES128GCM,
            srtpMasterKey: srtpKey, srtpMasterSalt: srtpSalt)
        let sender = try SFrameContext.Sender(suite: .aes128GCMSHA256Tag128, keyID: keyID, baseKey: baseKey)
        #expect(sender.nextCounter == 0)
        let sframeOutput = try sender.protect(opusPacket)
        let header = SFrameHeader(keyID: keyID, counter: 0).serialize()
        let rtp = RTPPacket(
            header: RTPHeader(
                marker: true, payloadType: 111, sequenceNumber: SequenceNumber(1), timestamp: RTPTimestamp(960),
                ssrc: ssrc),
            payload: sframeOutput
        ).serialize()
        let outbound = try SRTPContext(
            direction: .outbound, suite: .aeadAES128GCM, masterKey: srtpKey, masterSalt: srtpSalt,
            streams: .only([ssrc]))
        let datagram = try outbound.protect(rtp: rtp)
        return Run(
            announcement: announcement.serialize(), sframeHeader: header, sframeOutput: sframeOutput,
            rtpPacket: rtp, srtpDatagram: datagram)
    }

    @Test func theImplementationStillProducesTheSpecifiedBytes() throws {
        let run = try Self.run()
        // PARLEY_PRINT_EXAMPLE=1 prints the bytes: regenerate the constants and v1.md §3.1 from them after a
        // deliberate change.
        if ProcessInfo.processInfo.environment["PARLEY_PRINT_EXAMPLE"] != nil {
            for (name, bytes) in [
                ("announcement", run.announcement), ("opus", Self.opusPacket), ("sframeHeader", run.sframeHeader),
                ("sframeOutput", run.sframeOutput), ("rtpPacket", run.rtpPacket), ("srtpDatagram", run.srtpDatagram),
            ] {
                print("EXAMPLE \(name) \(Self.hex(bytes))")
            }
        }
        #expect(Self.hex(run.announcement) == Self.compact(Self.announcement))
        #expect(Self.hex(Self.opusPacket) == Self.compact(Self.opus))
        #expect(Self.hex(run.sframeHeader) == Self.compact(Self.sframeHeader))
        #expect(Self.hex(run.sframeOutput) == Self.compact(Self.sframeOutput))
        #expect(Self.hex(run.rtpPacket) == Self.compact(Self.rtpPacket))
        #expect(Self.hex(run.srtpDatagram) == Self.compact(Self.srtpDatagram))
        // Sizes: header ‖ ciphertext ‖ 16-byte tag; 12-byte RTP header; 16-byte SRTP tag.
        #expect(run.sframeOutput.count == run.sframeHeader.count + Self.opusPacket.count + 16)
        #expect(Array(run.sframeOutput.prefix(run.sframeHeader.count)) == run.sframeHeader)
        #expect(run.rtpPacket.count == 12 + run.sframeOutput.count)
        #expect(run.srtpDatagram.count == run.rtpPacket.count + 16)
        #expect(Array(run.srtpDatagram.prefix(12)) == Array(run.rtpPacket.prefix(12)))
    }

    @Test func theReceiverRecoversTheOpusPacket() throws {
        let run = try Self.run()
        let inbound = try SRTPContext(
            direction: .inbound, suite: .aeadAES128GCM, masterKey: Self.srtpKey, masterSalt: Self.srtpSalt,
            streams: .only([Self.ssrc]))
        let rtpBytes = try inbound.unprotect(srtp: run.srtpDatagram)
        #expect(rtpBytes == run.rtpPacket)
        let packet = try RTPPacket(parsing: rtpBytes)
        #expect(packet.header.marker)
        #expect(packet.header.payloadType == 111)
        #expect(packet.header.sequenceNumber == SequenceNumber(1))
        #expect(packet.header.timestamp == RTPTimestamp(960))
        #expect(packet.header.ssrc == Self.ssrc)
        #expect(Array(packet.payload) == run.sframeOutput)
        let receiver = SFrameContext.Receiver(suite: .aes128GCMSHA256Tag128)
        try receiver.addKey(keyID: Self.keyID, baseKey: Self.baseKey)
        #expect(try receiver.unprotect(Array(packet.payload)) == Self.opusPacket)
        // The same datagram again is a replay, for SRTP.
        #expect(throws: SRTPError.self) { try inbound.unprotect(srtp: run.srtpDatagram) }
    }

    /// The fenced blocks of v1.md §3.1, in order, with whitespace removed.
    private static func specificationBlocks() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Protocols/peer/v1.md"), encoding: .utf8)
        let start = try #require(text.range(of: "\n### 3.1 Worked example\n"), "v1.md has no §3.1")
        let end = try #require(
            text.range(of: "\n## 4.", range: start.upperBound..<text.endIndex), "v1.md has no §4 after §3.1")
        let parts = text[start.upperBound..<end.lowerBound].components(separatedBy: "```")
        // Odd parts are inside fences.
        return stride(from: 1, to: parts.count, by: 2).map { compact(parts[$0]) }
    }

    @Test func theSpecificationShowsTheseBytes() throws {
        let blocks = try Self.specificationBlocks()
        let expected = [
            ("announcement", Self.announcement), ("Opus packet", Self.opus), ("SFrame header", Self.sframeHeader),
            ("SFrame output", Self.sframeOutput), ("RTP packet", Self.rtpPacket),
            ("SRTP datagram", Self.srtpDatagram),
        ]
        #expect(blocks.count == expected.count, "v1.md §3.1 has \(blocks.count) hex blocks, not \(expected.count)")
        for (index, (name, value)) in expected.enumerated() {
            let shown = index < blocks.count ? blocks[index] : "(missing)"
            #expect(shown == Self.compact(value), "v1.md §3.1 block \(index + 1) should be the \(name)")
        }
    }
}
