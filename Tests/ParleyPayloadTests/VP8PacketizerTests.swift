import ParleyPayload
import ParleyRTP
import ParleyWire
import Testing

@Suite struct VP8PacketizerTests {
    /// The payload budget at an MTU: IPv4 (20) + UDP (8) + RTP (12) + SRTP GCM tag (16) + 8 bytes of
    /// header extensions.
    static func budget(mtu: Int) -> Int { mtu - 64 }

    /// Frame sizes at each MTU, with the edges: a frame filling one packet exactly (15-bit PictureID:
    /// a 4-byte descriptor), one byte more, two packets exactly and one byte more.
    static let cases: [(size: Int, mtu: Int)] = [500, 800, 1200, 1400].flatMap { mtu in
        let capacity = budget(mtu: mtu) - 4
        return [1, 2, 100, capacity - 1, capacity, capacity + 1, 2 * capacity, 2 * capacity + 1, 50_000]
            .map { (size: $0, mtu: mtu) }
    } + [(size: 200_000, mtu: 500), (size: 200_000, mtu: 1400), (size: 123_457, mtu: 1000)]

    @Test(arguments: cases)
    func splitsIntoTheFewestBalancedPayloadsWithinTheBudget(_ size: Int, _ mtu: Int) throws {
        let frame = patternFrame(size)
        var packetizer = VP8Packetizer(maximumPayloadSize: Self.budget(mtu: mtu), firstPictureID: 0x7FFF)
        let payloads = packetizer.packetize(frame)
        let capacity = Self.budget(mtu: mtu) - 4
        #expect(payloads.count == (size + capacity - 1) / capacity)
        #expect(payloads.allSatisfy { $0.count <= Self.budget(mtu: mtu) })
        let parsed = try payloads.map { try VP8RTPPayload(parsing: $0[...]) }
        let sizes = parsed.map(\.data.count)
        #expect(sizes.max()! - sizes.min()! <= 1, "no tiny last packet")
        #expect(parsed.flatMap(\.data) == frame)
        for (index, payload) in parsed.enumerated() {
            #expect(payload.descriptor.isStartOfPartition == (index == 0))
            #expect(payload.descriptor.partitionIndex == 0)
            #expect(payload.descriptor.pictureID == .fifteenBit(0x7FFF))
        }
        #expect(packetizer.nextPictureID == 0, "the 15-bit PictureID wraps")
    }

    @Test func aFrameFillingOnePayloadExactlyTakesOnePacketAndOneByteMoreTakesTwo() {
        var packetizer = VP8Packetizer(maximumPayloadSize: 1_000)
        #expect(packetizer.packetize(patternFrame(996)).map(\.count) == [1_000])
        #expect(packetizer.packetize(patternFrame(997)).map(\.count) == [503, 502])
    }

    @Test func everyPacketCarriesTheConfiguredFields() throws {
        var packetizer = VP8Packetizer(maximumPayloadSize: 100, firstPictureID: 300)
        let template = VP8PayloadDescriptor(
            isNonReference: true, isStartOfPartition: false, partitionIndex: 5, tl0PictureIndex: 9,
            temporalLayer: .init(id: 1, isLayerSync: true), keyIndex: 4)
        let payloads = packetizer.packetize(patternFrame(250), descriptor: template)
        #expect(payloads.count == 3)
        for (index, bytes) in payloads.enumerated() {
            let descriptor = try VP8RTPPayload(parsing: bytes[...]).descriptor
            #expect(
                descriptor
                    == VP8PayloadDescriptor(
                        isNonReference: true, isStartOfPartition: index == 0, partitionIndex: 0,
                        pictureID: .fifteenBit(300), tl0PictureIndex: 9,
                        temporalLayer: .init(id: 1, isLayerSync: true), keyIndex: 4))
        }
        let next = try VP8RTPPayload(parsing: packetizer.packetize(patternFrame(10))[0][...]).descriptor
        #expect(next.pictureID == .fifteenBit(301))
    }

    @Test func withoutPictureNumberingTheTemplatesPictureIDIsSent() throws {
        var packetizer = VP8Packetizer(maximumPayloadSize: 100, firstPictureID: nil)
        let short = try VP8RTPPayload(parsing: packetizer.packetize(patternFrame(10))[0][...])
        #expect(short.descriptor == VP8PayloadDescriptor())
        #expect(short.descriptor.serializedSize == 1)
        let sevenBit = packetizer.packetize(patternFrame(10), descriptor: .init(pictureID: .sevenBit(7)))
        #expect(try VP8RTPPayload(parsing: sevenBit[0][...]).descriptor.pictureID == .sevenBit(7))
    }

    @Test func anEmptyFrameYieldsNoPayloadsAndUsesNoPictureID() {
        var packetizer = VP8Packetizer(maximumPayloadSize: 100, firstPictureID: 5)
        #expect(packetizer.packetize([UInt8]()).isEmpty)
        #expect(packetizer.nextPictureID == 5)
    }

    @Test func opaqueBytesThatLookLikeAVP8HeaderAreNotInterpreted() throws {
        // An SFrame ciphertext is random: whatever its first bytes say, the split is the same.
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20 {
            let frame = generator.bytes(1_500)
            var packetizer = VP8Packetizer(maximumPayloadSize: 500)
            let payloads = packetizer.packetize(frame)
            #expect(payloads.map(\.count) == [379, 379, 379, 379])  // balanced, not 500 + 500 + 500 + 16
            #expect(try payloads.map { try VP8RTPPayload(parsing: $0[...]).data }.joined().elementsEqual(frame))
        }
    }

    @Test func packetsForAFrameHaveConsecutiveSequenceNumbersOneTimestampAndTheMarkerLast() {
        var packetizer = VP8Packetizer(maximumPayloadSize: 500)
        let packets = videoHeader(sequenceNumber: 65_534, timestamp: 1234).packets(
            carrying: packetizer.packetize(patternFrame(1_500)))
        #expect(packets.map(\.header.sequenceNumber.rawValue) == [65_534, 65_535, 0, 1])
        #expect(packets.allSatisfy { $0.header.timestamp == RTPTimestamp(1234) })
        #expect(packets.map(\.header.marker) == [false, false, false, true])
    }
}
