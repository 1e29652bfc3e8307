import ParleySession
import ParleyWire
import Testing

/// 10 000 random and mutated buffers, seeded: the parser never traps, and whatever parses re-serializes
/// to at most `maximumSize` bytes that parse equal.
@Suite struct CallParametersPropertyTests {
    static let seeds: [[UInt8]] = [
        Fixtures.offer, Fixtures.answer, Fixtures.decline, Fixtures.exampleOffer.serialize(),
        (try? CallParameters.answer(to: Fixtures.exampleOffer, with: Fixtures.exampleLocal).serialize()) ?? [],
    ]

    @Test func randomAndMutatedBuffersNeverTrapAndReserializeWhatParses() {
        var random = SplitMix64(seed: 0x0FFE_5A45)
        var parsed = 0
        for iteration in 0..<10_000 {
            let bytes: [UInt8]
            if iteration % 4 == 0 {
                let header: [UInt8] = [UInt8.random(in: 1...2, using: &random), 1]
                let body = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                bytes = header + [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
            } else {
                bytes = random.mutated(Self.seeds[iteration % Self.seeds.count])
            }
            guard let value = try? CallParameters(parsing: bytes) else { continue }
            parsed += 1
            let again = value.serialize()
            #expect(again.count == value.serializedSize)
            #expect(again.count <= CallParameters.maximumSize)
            #expect((try? CallParameters(parsing: again)) == value)
        }
        #expect(parsed > 100)
    }
}
