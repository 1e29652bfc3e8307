import ParleyPayload
import ParleyRTP
import ParleyWire
import Testing

/// Thousands of random and mutated buffers, seeded so every run is the same: no parser or assembler
/// traps, and whatever parses re-serializes to bytes that parse equal.
@Suite struct PayloadPropertyTests {
    /// Valid payloads to mutate: every descriptor form, with a few VP8 bytes.
    static let seeds: [[UInt8]] = VP8PayloadDescriptorTests.forms.map(\.bytes) + [
        [0x90, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3],
        [0x80, 0x80, 0x7F, 0xAA, 0xBB],
    ]

    /// A random buffer, or a seed with a few bytes flipped, cut or appended.
    static func buffer(using generator: inout SplitMix64) -> [UInt8] {
        if Bool.random(using: &generator) {
            return generator.bytes(Int.random(in: 0...12, using: &generator))
        }
        var bytes = seeds.randomElement(using: &generator)!
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            switch Int.random(in: 0..<3, using: &generator) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: bytes.indices, using: &generator)] ^= 1 << UInt8.random(in: 0...7, using: &generator)
            case 1 where !bytes.isEmpty:
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &generator))
            default:
                bytes.append(UInt8.random(in: 0...255, using: &generator))
            }
        }
        return bytes
    }

    @Test func vp8PayloadParserNeverTrapsAndWhatParsesRoundTrips() throws {
        var generator = SplitMix64(seed: 1)
        var parsed = 0
        for _ in 0..<20_000 {
            let bytes = Self.buffer(using: &generator)
            guard let payload = try? VP8RTPPayload(parsing: bytes[...]) else { continue }
            parsed += 1
            let serialized = payload.serialize()
            #expect(serialized.count == payload.serializedSize)
            #expect(try VP8RTPPayload(parsing: serialized[...]) == payload, "\(bytes)")
        }
        #expect(parsed > 5_000, "the mutations should keep many buffers valid")
    }

    @Test func opusAndRTXParsersNeverTrapAndWhatParsesRoundTrips() throws {
        var generator = SplitMix64(seed: 2)
        for _ in 0..<10_000 {
            let bytes = generator.bytes(Int.random(in: 0...8, using: &generator))
            if let opus = try? OpusRTPPayload(parsing: bytes) {
                #expect(opus.sampleCount <= OpusRTPPayload.maximumSampleCount)
                #expect(try OpusRTPPayload(parsing: opus.serialize()) == opus)
            }
            if let rtx = try? RTXPayload(parsing: bytes[...]) {
                #expect(try RTXPayload(parsing: rtx.serialize()[...]) == rtx)
            }
        }
    }

    @Test func assemblerNeverTrapsOnRandomAndMutatedPacketsAndAccountsForEveryOne() {
        var generator = SplitMix64(seed: 3)
        var assembler = VP8FrameAssembler(window: 64)
        var outcomes = (buffered: 0, completed: 0, duplicate: 0, late: 0, malformed: 0)
        let count = 20_000
        var base: UInt16 = 65_000
        for _ in 0..<count {
            // Sequence numbers mostly near a slowly moving base (reordering, duplicates, wrap), sometimes anywhere.
            base &+= UInt16.random(in: 0...2, using: &generator)
            let sequenceNumber = Int.random(in: 0..<50, using: &generator) == 0
                ? UInt16.random(in: 0...UInt16.max, using: &generator)
                : base &- UInt16.random(in: 0...40, using: &generator)
            var header = videoHeader(
                sequenceNumber: sequenceNumber, timestamp: UInt32(sequenceNumber / 4) &* 3_000)
            header.marker = Int.random(in: 0..<4, using: &generator) == 0
            let packet = RTPPacket(header: header, payload: Self.buffer(using: &generator))
            switch assembler.insert(packet) {
            case .buffered: outcomes.buffered += 1
            case .completed(let frame):
                outcomes.completed += 1
                #expect(frame.packetCount >= 1 && frame.packetCount <= 64)
                #expect(frame.descriptor.isStartOfFrame)
            case .duplicate: outcomes.duplicate += 1
            case .late: outcomes.late += 1
            case .malformed: outcomes.malformed += 1
            }
            #expect(assembler.missingSequenceNumbers.count <= 64)
        }
        let statistics = assembler.statistics
        #expect(outcomes.buffered + outcomes.completed + outcomes.duplicate + outcomes.late + outcomes.malformed == count)
        #expect(statistics.completedFrames == outcomes.completed)
        #expect(statistics.duplicatePackets == outcomes.duplicate)
        #expect(statistics.latePackets == outcomes.late)
        #expect(statistics.malformedPackets == outcomes.malformed)
        #expect(outcomes.completed > 100 && outcomes.malformed > 100, "the mix should exercise every path")
    }
}
