import ParleyRTP
import ParleyWire
import Testing


@Suite struct RTPParserPropertyTests {
    @Test func randomAndMutatedBuffersNeverTrapAndWhatParsesRoundTrips() throws {
        var random = SplitMix64(seed: 0x5EED)
        var parsedCount = 0
        let seeds = [rtpWithEverything, rtpWithTwoByteExtensions]
        for round in 0..<20_000 {
            let bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                bytes = random.mutated(seeds[round % 2], changes: 1...4)
            }
            guard let packet = try? RTPPacket(parsing: bytes) else { continue }
            parsedCount += 1
            let reparsed = try RTPPacket(parsing: packet.serialize())
            #expect(reparsed.header.extensions.elements == packet.header.extensions.elements, "input \(bytes)")
            #expect(reparsed.payload == packet.payload && reparsed.paddingCount == packet.paddingCount, "input \(bytes)")
            #expect(reparsed.header.sequenceNumber == packet.header.sequenceNumber && reparsed.header.csrcs == packet.header.csrcs)
        }
        // The mutations keep a good share parseable, so the round-trip half of the property is exercised.
        #expect(parsedCount > 5_000)
    }
}
