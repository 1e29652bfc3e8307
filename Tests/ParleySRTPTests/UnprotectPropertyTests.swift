import ParleyRTP
import ParleySRTP
import ParleyWire
import Testing


/// Random bytes, half of them starting like an RTP/RTCP packet (version 2) so that they reach libsrtp.
func randomBuffer(using random: inout SplitMix64, rtcp: Bool) -> [UInt8] {
    var bytes = (0..<Int.random(in: 0...96, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    if bytes.count >= 2, Bool.random(using: &random) {
        bytes[0] = 0x80 | bytes[0] & 0x3F
        if rtcp { bytes[1] = UInt8.random(in: 192...223, using: &random) }
    }
    return bytes
}

/// Thousands of random and damaged buffers into unprotect: nothing traps, every buffer is either refused
/// with an error or comes out as a packet that was really sent, and the counters add up.
@Suite struct UnprotectPropertyTests {
    /// Every sixth buffer is random, one in six a fresh packet (delivered at once, or held back for a
    /// while), the rest damaged copies of packets already delivered (refused as replays or forgeries) or
    /// held back (refused as forgeries, their index being new). The held packets then arrive intact: no
    /// refused buffer left any state behind.
    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32])
    func randomAndMutatedSRTPIsRefusedOrIsAPacketThatWasSent(suite: SRTPSuite) throws {
        var random = SplitMix64(seed: 0x5EC0_0001)
        let (sender, receiver) = try contextPair(suite)
        let (_, narrowReceiver) = try contextPair(suite, streams: .only([testSSRC]))
        var sent = Set<[UInt8]>()
        var delivered: [[UInt8]] = []
        var held: [[UInt8]] = []
        var calls = 0
        var successes = 0

        func deliver(_ input: [UInt8], to context: SRTPContext) -> [UInt8]? {
            if context === receiver { calls += 1 }
            guard let plain = try? context.unprotect(srtp: input) else { return nil }
            #expect(sent.contains(plain), "an unsent packet came out")
            #expect((try? RTPPacket(parsing: plain)) != nil)
            if context === receiver {
                successes += 1
                held.removeAll { $0 == input }
            }
            return plain
        }

        var sequence: UInt16 = 65_000
        for round in 0..<6_000 {
            let input: [UInt8]
            switch round % 6 {
            case 0:
                input = randomBuffer(using: &random, rtcp: false)
            case 1:
                if round % 96 == 1 {
                    for packet in held {
                        #expect(deliver(packet, to: receiver) != nil, "a held packet was refused")
                    }
                }
                let plain = rtpPacket(sequence: sequence, size: Int.random(in: 0...300, using: &random))
                sequence &+= UInt16.random(in: 1...3, using: &random)
                sent.insert(plain)
                let protected = try sender.protect(rtp: plain)
                if round % 24 == 1 {
                    held.append(protected)
                    continue
                }
                input = protected
                delivered.append(input)
            default:
                let source = Bool.random(using: &random) ? held.randomElement(using: &random) : nil
                input = random.mutated(source ?? delivered.randomElement(using: &random) ?? [])
            }
            _ = deliver(input, to: receiver)
            if round % 3 == 0 {
                _ = deliver(input, to: narrowReceiver)
            }
        }
        for packet in held {
            #expect(deliver(packet, to: receiver) != nil, "a held packet was refused")
        }
        let statistics = receiver.statistics
        #expect(statistics.unprotected == successes && successes == 1_000)
        #expect(statistics.unprotected + statistics.failures == calls)
        #expect(statistics.authenticationFailures > 1_000 && statistics.malformed > 500 && statistics.replays > 500)
        #expect(statistics.unknownSSRC == 0 && statistics.otherFailures == 0)
        #expect(narrowReceiver.statistics.unknownSSRC > 50)
        #expect(receiver.rolloverCounter(for: testSSRC) == 1)
    }

    @Test(arguments: [SRTPSuite.aeadAES128GCM, .aesCM128HMACSHA1_80])
    func randomAndMutatedSRTCPIsRefusedOrIsAPacketThatWasSent(suite: SRTPSuite) throws {
        var random = SplitMix64(seed: 0x5EC0_0002)
        let (sender, receiver) = try contextPair(suite)
        var sent = Set<[UInt8]>()
        var delivered: [[UInt8]] = []
        var successes = 0
        for round in 0..<4_000 {
            let input: [UInt8]
            switch round % 5 {
            case 0:
                input = randomBuffer(using: &random, rtcp: true)
            case 1:
                let plain = rtcpPacket(lost: UInt8.random(in: 0...255, using: &random))
                sent.insert(plain)
                input = try sender.protectRTCP(plain)
                delivered.append(input)
            default:
                input = random.mutated(delivered.randomElement(using: &random) ?? [])
            }
            guard let plain = try? receiver.unprotectRTCP(input) else { continue }
            successes += 1
            #expect(sent.contains(plain), "round \(round): an unsent packet came out")
            #expect((try? RTCPCompoundPacket(parsing: plain)) != nil)
        }
        let statistics = receiver.statistics
        #expect(statistics.unprotected == successes && successes == 800)
        #expect(statistics.unprotected + statistics.failures == 4_000)
        #expect(statistics.authenticationFailures > 1_000 && statistics.malformed > 500 && statistics.replays > 200)
        #expect(statistics.unknownSSRC == 0 && statistics.otherFailures == 0)
    }
}
