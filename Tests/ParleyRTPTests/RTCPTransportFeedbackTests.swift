import ParleyRTP
import ParleyWire
import Testing

@Suite struct RTCPTransportFeedbackTests {
    typealias Feedback = RTCPTransportFeedback

    static let fixture = Feedback(
        senderSSRC: SSRC(0x902f_9e2e), mediaSSRC: SSRC(0x4bc4_fcb4), baseSequenceNumber: SequenceNumber(65534),
        referenceTime: -2, feedbackPacketCount: 42,
        packetStatuses: [
            .received(delta: 0), .received(delta: 255), .notReceived, .received(delta: 1), .notReceived,
            .notReceived, .received(delta: 2),
        ] + Array(repeating: .notReceived, count: 6) + [.received(delta: 100)]
            + Array(repeating: .notReceived, count: 20)
            + [.received(delta: -1), .received(delta: 10), .notReceived]
    )

    @Test func transportFeedbackFixture() throws {
        try expectFixture(RTCPFixture.transportFeedback, parsesTo: Self.fixture)
        try expectFixture(RTCPFixture.transportFeedback, parsesTo: RTCPPacket.transportFeedback(Self.fixture))
    }

    @Test func zeroPaddingAfterTheDeltasIsAcceptedAsTheDraftDrawsIt() throws {
        var bytes = RTCPFixture.transportFeedback
        bytes[0] = 0x8f  // P=0
        bytes[35] = 0x00  // two zero bytes after the last delta instead of a padding count
        #expect(try Feedback(parsing: bytes) == Self.fixture)
    }

    @Test func arrivalsAddTheDeltasToTheReferenceTime() {
        let arrivals = Self.fixture.arrivals
        // Reference −2 × 64 ms = −128 ms = −512 ticks; then +0, +255, +1, +2, +100, −1, +10 ticks.
        #expect(arrivals.map(\.sequenceNumber.rawValue) == [65534, 65535, 1, 4, 11, 32, 33])
        #expect(arrivals.map { $0.instant.nanoseconds / 250_000 } == [-512, -257, -256, -254, -154, -155, -145])
    }

    @Test func largeOrNegativeDeltaTakesTwoBytesAndSmallOneTakesOne() throws {
        let small = Feedback(
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), baseSequenceNumber: SequenceNumber(0), referenceTime: 0,
            feedbackPacketCount: 0, packetStatuses: [.received(delta: 255)])
        var large = small
        large.packetStatuses = [.received(delta: 256)]
        var negative = small
        negative.packetStatuses = [.received(delta: -1)]
        #expect(small.contentSize == 16 + 2 + 1)
        #expect(large.contentSize == 16 + 2 + 2)
        #expect(negative.contentSize == 16 + 2 + 2)
        for feedback in [small, large, negative] {
            #expect(try Feedback(parsing: feedback.serialize()) == feedback)
        }
    }

    @Test func largeDeltaSentForASmallValueParsesToTheSameDescription() throws {
        let bytes: [UInt8] = [
            0x8f, 0xcd, 0x00, 0x05,  // V=2 P=0 FMT=15, PT=205 RTPFB, length=5 (24 bytes)
            0x00, 0x00, 0x00, 0x01,  // sender SSRC 1
            0x00, 0x00, 0x00, 0x02,  // media SSRC 2
            0x00, 0x00, 0x00, 0x01,  // base sequence 0, status count 1
            0x00, 0x00, 0x00, 0x00,  // reference time 0, feedback packet count 0
            0x40, 0x01, 0x00, 0x05,  // run-length chunk: symbol 2 (large) × 1; delta 0x0005 in two bytes
        ]
        let feedback = try Feedback(parsing: bytes)
        #expect(feedback.packetStatuses == [.received(delta: 5)])
        #expect(feedback.serialize() == [
            0xaf, 0xcd, 0x00, 0x05,  // P=1: the content shrank to 19 bytes
            0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00, 0x02,
            0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00, 0x00,
            0x20, 0x01, 0x05, 0x01,  // run-length chunk: symbol 1 (small) × 1; delta 5; padding count 1
        ])
    }

    @Test func reservedStatusSymbolIsRejected() {
        var bytes = RTCPFixture.transportFeedback
        bytes[24] = 0xf4  // the 2-bit vector's first symbol becomes 3
        #expect(throws: WireError.invalidValue(field: "TWCC packet status symbol", reason: "3 is reserved")) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func statusCountBeyondTheChunksIsRejected() {
        let bytes: [UInt8] = [
            0xaf, 0xcd, 0x00, 0x05,  // V=2 P=1 FMT=15, PT=205 RTPFB, length=5 (24 bytes)
            0x00, 0x00, 0x00, 0x01,  // sender SSRC 1
            0x00, 0x00, 0x00, 0x02,  // media SSRC 2
            0x00, 0x00, 0x00, 0x14,  // base sequence 0, status count 20
            0x00, 0x00, 0x00, 0x00,  // reference time 0, feedback packet count 0
            0x80, 0x00, 0x00, 0x02,  // 1-bit vector: 14 lost; padding count 2 — 6 statuses have no chunk
        ]
        #expect(throws: WireError.truncated(field: "TWCC packet status chunk", needed: 2, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func missingReceiveDeltaIsRejected() {
        var bytes = RTCPFixture.transportFeedback
        bytes[35] = 0x04  // padding count 4 cuts the large delta −1 after its first byte
        #expect(throws: WireError.truncated(field: "TWCC receive delta", needed: 2, available: 1)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func wordOfBytesAfterTheDeltasIsRejected() {
        var bytes = RTCPFixture.transportFeedback + [0, 0, 0, 0]
        bytes[0] = 0x8f  // P=0
        bytes[3] = 9  // length 9: a whole extra word after the deltas
        #expect(throws: WireError.lengthMismatch(field: "TWCC receive deltas", declared: 36, actual: 30)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func headerCutShortIsRejected() {
        var bytes = Array(RTCPFixture.transportFeedback.prefix(16))
        bytes[0] = 0x8f  // P=0
        bytes[3] = 3
        #expect(throws: WireError.truncated(field: "TWCC reference time", needed: 3, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    // MARK: Building feedback from arrivals.

    struct ArrivalPattern: CustomTestStringConvertible, Sendable {
        var name: String
        /// (transport-wide sequence number, arrival in ms), in arrival order.
        var arrivals: [(UInt16, Double)]
        /// How many feedback packets the builder makes.
        var feedbackCount: Int
        /// Total packet statuses over all feedback packets.
        var statusCount: Int
        var testDescription: String { name }
    }

    static let patterns: [ArrivalPattern] = {
        let inOrder: [(UInt16, Double)] = (0..<10).map { (UInt16(100 + $0), 1000 + 5 * Double($0)) }
        let thousand: [(UInt16, Double)] = (0..<1000).map { (UInt16($0), Double($0)) }
        let holes: [Int] = (0..<300).filter { $0 % 7 != 3 || $0 > 200 }
        let mixed: [(UInt16, Double)] = holes.map { (UInt16($0), Double($0) * 0.75) } + [(300, 400), (301, 350)]
        return [
            ArrivalPattern(name: "in order, every 5 ms", arrivals: inOrder, feedbackCount: 1, statusCount: 10),
            ArrivalPattern(
                name: "gaps", arrivals: [(0, 0), (1, 10), (2, 20), (5, 30), (6, 40), (10, 50)],
                feedbackCount: 1, statusCount: 11),
            ArrivalPattern(
                name: "reordering gives negative deltas", arrivals: [(1, 10), (0, 12), (3, 15), (2, 30), (4, 30.25)],
                feedbackCount: 1, statusCount: 5),
            ArrivalPattern(
                name: "duplicates keep the first arrival", arrivals: [(7, 1), (8, 2), (7, 3), (9, 4)],
                feedbackCount: 1, statusCount: 3),
            ArrivalPattern(
                name: "sequence numbers wrap", arrivals: [(65533, 0), (65535, 1), (0, 2), (2, 3)],
                feedbackCount: 1, statusCount: 6),
            ArrivalPattern(
                name: "delta over 2^15 ticks starts a new feedback packet",
                arrivals: [(0, 0), (1, 1), (2, 10_000), (3, 10_001)], feedbackCount: 2, statusCount: 4),
            ArrivalPattern(
                name: "backwards delta over 2^15 ticks too", arrivals: [(1, 0), (0, 9_000)],
                feedbackCount: 2, statusCount: 2),
            ArrivalPattern(name: "1000 received in a row", arrivals: thousand, feedbackCount: 1, statusCount: 1000),
            ArrivalPattern(name: "500 lost in a row", arrivals: [(10, 0), (511, 100)], feedbackCount: 1, statusCount: 502),
            ArrivalPattern(name: "mixed runs and vectors", arrivals: mixed, feedbackCount: 1, statusCount: 302),
        ]
    }()

    @Test(arguments: patterns)
    func builtFeedbackRoundTripsAndReportsEveryArrival(pattern: ArrivalPattern) throws {
        let arrivals = pattern.arrivals.map {
            Feedback.Arrival(sequenceNumber: SequenceNumber($0.0), instant: .zero + .microseconds(Int64($0.1 * 1000)))
        }
        let feedback = Feedback.makeFeedback(reporting: arrivals, senderSSRC: SSRC(1), mediaSSRC: SSRC(2), firstFeedbackPacketCount: 254)
        #expect(feedback.count == pattern.feedbackCount)
        #expect(feedback.reduce(0) { $0 + $1.packetStatuses.count } == pattern.statusCount)
        #expect(feedback.map(\.feedbackPacketCount) == Array([254, 255, 0].prefix(feedback.count)))
        for packet in feedback {
            #expect(try Feedback(parsing: packet.serialize()) == packet)
            #expect(try RTCPCompoundPacket(parsing: packet.serialize()).packets == [.transportFeedback(packet)])
        }
        // Every arrival comes back (instants here are whole 250 µs ticks), by sequence number, first one kept.
        var expected: [UInt16: MonotonicInstant] = [:]
        for arrival in arrivals where expected[arrival.sequenceNumber.rawValue] == nil {
            expected[arrival.sequenceNumber.rawValue] = arrival.instant
        }
        let reported = feedback.flatMap(\.arrivals)
        #expect(reported.count == expected.count)
        for arrival in reported {
            #expect(expected[arrival.sequenceNumber.rawValue] == arrival.instant)
        }
    }

    @Test func deltaOver2To15TicksStartsANewFeedbackThatStillReportsTheGap() {
        let arrivals = [(0, 0), (1, 1), (5, 10_000)].map {
            Feedback.Arrival(sequenceNumber: SequenceNumber(UInt16($0.0)), instant: .zero + .milliseconds($0.1))
        }
        let feedback = Feedback.makeFeedback(reporting: arrivals, senderSSRC: SSRC(1), mediaSSRC: SSRC(2), firstFeedbackPacketCount: 9)
        #expect(feedback.map(\.baseSequenceNumber.rawValue) == [0, 2])
        #expect(feedback.map(\.feedbackPacketCount) == [9, 10])
        #expect(feedback[0].packetStatuses == [.received(delta: 0), .received(delta: 4)])
        // 10 000 ms = 156 × 64 ms + 16 ms: reference time 156, first delta 16 ms = 64 ticks.
        #expect(feedback[1].referenceTime == 156)
        #expect(feedback[1].packetStatuses == [.notReceived, .notReceived, .notReceived, .received(delta: 64)])
    }

    @Test func longRunsUseRunLengthChunks() {
        let received = Feedback.makeFeedback(
            reporting: (0..<1000).map { .init(sequenceNumber: SequenceNumber(UInt16($0)), instant: .zero + .milliseconds($0)) },
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), firstFeedbackPacketCount: 0)
        // Header 4 + 16, one run-length chunk (1000 × small), 1000 one-byte deltas: 1022 → 1024 with padding.
        #expect(received.map(\.serializedSize) == [1024])
        let lost = Feedback.makeFeedback(
            reporting: [.init(sequenceNumber: SequenceNumber(10), instant: .zero),
                        .init(sequenceNumber: SequenceNumber(511), instant: .zero + .milliseconds(100))],
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), firstFeedbackPacketCount: 0)
        // Chunks: 1-bit vector (1 + 13 lost), run of 487 lost, run of 1 received; deltas 1 + 2 bytes
        // (100 ms = 400 ticks): 4 + 16 + 6 + 3 = 29 → 32.
        #expect(lost.map(\.serializedSize) == [32])
    }

    @Test func referenceTimeWrapsTo24SignedBits() {
        // 2^23 × 64 ms: the first reference time that no longer fits as a positive 24-bit value.
        let instant = MonotonicInstant.zero + .milliseconds(64 * (1 << 23) + 3)
        let feedback = Feedback.makeFeedback(
            reporting: [.init(sequenceNumber: SequenceNumber(1), instant: instant)],
            senderSSRC: SSRC(1), mediaSSRC: SSRC(2), firstFeedbackPacketCount: 0)
        #expect(feedback.map(\.referenceTime) == [-(1 << 23)])
        #expect(feedback.first?.packetStatuses == [.received(delta: 12)])
    }
}
