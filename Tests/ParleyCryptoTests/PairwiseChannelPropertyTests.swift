import ParleyCrypto
import ParleyWire
import Testing

@Suite struct PairwiseChannelPropertyTests {
    @Test func randomAndMutatedDatagramsNeverTrapNeverAuthenticateAndChangeNothing() throws {
        let pair = try ChannelPair(configuration: .init(datagramsPerEpoch: 8))
        var random = SplitMix64(seed: 0xC4A1_2024)
        // Genuine datagrams of every kind, across two epochs, none delivered yet.
        var genuine: [[UInt8]] = []
        for (index, message) in PairwiseChannelTests.everyMessage.enumerated() {
            try pair.a.send(message, now: instant(milliseconds: Int64(index)))
            genuine += pair.a.drain().datagrams
        }
        genuine += pair.a.keepAliveDatagrams(12, from: instant(milliseconds: 10))
        #expect(genuine.count == 16)
        let header = Array(genuine[0].prefix(16))
        var rejected = 0
        for round in 0..<10_000 {
            let input: [UInt8]
            switch round % 4 {
            case 0:  // random bytes
                input = (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1:  // a plausible header with a random counter and random ciphertext
                var bytes = Array(header.prefix(8))
                for _ in 0..<8 { bytes.append(UInt8.random(in: 0...3, using: &random) == 0 ? UInt8.random(in: 0...255, using: &random) : 0) }
                bytes += (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                input = bytes
            default:  // a genuine datagram, mutated
                input = random.mutated(genuine[Int.random(in: 0..<genuine.count, using: &random)])
            }
            do {
                _ = try pair.b.receive(datagram: input, now: instant(milliseconds: 100))
                // Only an unchanged genuine datagram may pass (a mutation can undo itself).
                #expect(genuine.contains(input), "accepted a forged datagram: \(input)")
                genuine.removeAll { $0 == input }
            } catch {
                rejected += 1
            }
        }
        let statistics = pair.b.statistics
        #expect(statistics.malformed + statistics.replays + statistics.unknownEpochs + statistics.authenticationFailures == rejected)
        #expect(statistics.malformed > 0 && statistics.authenticationFailures > 0 && statistics.unknownEpochs > 0)
        // Nothing the forgeries did stops the genuine datagrams that remain.
        for datagram in genuine {
            _ = try pair.b.receive(datagram: datagram, now: instant(milliseconds: 200))
        }
        #expect(pair.b.statistics.datagramsReceived == 16)
        #expect(pair.b.statistics.messagesDelivered == 4)
    }
}
