import ParleyJitter
import ParleyMedia
import Testing

@Suite struct AudioTimeStretcherTests {
    @Test(arguments: [(1.25, 0.8), (0.8, 1.25)])
    func speechLengthChangesByTheSpeedFactor(speed: Double, ratio: Double) throws {
        let decoder = try OpusDecoder()
        let speech = try SpeechPackets.withFEC.prefix(50).flatMap { try decoder.decode($0).samples }
        let stretcher = try TimeStretcher(channelCount: 1)
        var output: [Int16] = []
        for block in stride(from: 0, to: speech.count, by: 960) {
            output += stretcher.stretch(Array(speech[block..<(block + 960)]), speed: Float(speed))
        }
        let measured = Double(output.count) / Double(speech.count)
        #expect(abs(measured - ratio) < 0.02, "speed \(speed): length ratio \(measured)")
        // The stretched audio is still speech of the same level, not silence or clipping.
        func rms(_ samples: [Int16]) -> Double {
            (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
        }
        #expect(abs(rms(output) / rms(speech) - 1) < 0.3)
    }
}
