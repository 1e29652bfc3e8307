import ParleyRTP
import ParleyWire
import Testing

@Suite struct RTCPPropertyTests {
    /// A random buffer; most start with a plausible RTCP header so the inputs reach the packet parsers.
    private static func randomBuffer(_ random: inout SplitMix64) -> [UInt8] {
        var bytes = (0..<Int.random(in: 0...72, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        if bytes.count >= 4, Int.random(in: 0..<4, using: &random) > 0 {
            bytes[0] = 0x80 | bytes[0] & 0x20 | ([0, 1, 2, 4, 15].randomElement(using: &random) ?? 0)
            bytes[1] = [200, 201, 202, 203, 204, 205, 206].randomElement(using: &random) ?? 200
            bytes[2] = 0
            bytes[3] = UInt8((bytes.count - 4) / 4)
        }
        return bytes
    }

    /// One or two valid packets with one to four mutations: bit flips, byte changes, cuts, insertions.
    private static func mutatedPacket(_ random: inout SplitMix64) -> [UInt8] {
        let corpus = RTCPFixture.all
        var bytes = corpus.randomElement(using: &random) ?? []
        if Bool.random(using: &random) { bytes += corpus.randomElement(using: &random) ?? [] }
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            guard !bytes.isEmpty else { break }
            let index = Int.random(in: bytes.indices, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1: bytes[index] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.removeLast(Int.random(in: 0...min(8, bytes.count), using: &random))
            case 3: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
            case 4: bytes.remove(at: index)
            default: bytes[index] = [0x00, 0x01, 0x0f, 0x1f, 0x20, 0x7f, 0x80, 0xff].randomElement(using: &random) ?? 0
            }
        }
        return bytes
    }

    @Test func randomAndMutatedBuffersNeverTrapAndWhatParsesReserializesToTheSamePackets() {
        var random = SplitMix64(seed: 0x5eed_47c9)
        var parsed = 0
        var failures: [[UInt8]] = []
        for iteration in 0..<20_000 {
            let input = iteration % 2 == 0 ? Self.randomBuffer(&random) : Self.mutatedPacket(&random)
            guard let compound = try? RTCPCompoundPacket(parsing: input) else { continue }
            parsed += 1
            let bytes = compound.serialize()
            if bytes.count != compound.serializedSize || (try? RTCPCompoundPacket(parsing: bytes)) != compound {
                failures.append(input)
            }
        }
        #expect(failures.isEmpty, "inputs that did not round-trip: \(failures.prefix(3))")
        #expect(parsed > 2_000, "too few inputs parsed (\(parsed)) for the test to reach the packet parsers")
    }
}
