import ParleyRTP
import ParleyWire
import Testing

@Suite struct RTCPReportTests {
    static let fixtureBlock = RTCPReportBlock(
        ssrc: SSRC(0xbc5e_9a40), fractionLost: 0, cumulativeLost: 0, extendedHighestSequenceNumber: 18145,
        jitter: 273, lastSenderReport: 0x09f3_6432, delaySinceLastSenderReport: 150_137)

    static let fixtureSenderReport = RTCPSenderReport(
        ssrc: SSRC(0x902f_9e2e), ntpTimestamp: NTPTimestamp(rawValue: 0xda8b_d1fc_dddd_a05a),
        rtpTimestamp: RTPTimestamp(0xaaf4_edd5), packetCount: 1, octetCount: 2, reportBlocks: [fixtureBlock])

    @Test func senderReportFixture() throws {
        try expectFixture(RTCPFixture.senderReport, parsesTo: Self.fixtureSenderReport)
        try expectFixture(RTCPFixture.senderReport, parsesTo: RTCPPacket.senderReport(Self.fixtureSenderReport))
    }

    @Test func receiverReportFixtureWithNegativeCumulativeLoss() throws {
        let expected = RTCPReceiverReport(ssrc: SSRC(0x902f_9e2e), reportBlocks: [
            RTCPReportBlock(
                ssrc: SSRC(0xbc5e_9a40), fractionLost: 64, cumulativeLost: -2, extendedHighestSequenceNumber: 65541,
                jitter: 42, lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 0x18000)
        ])
        try expectFixture(RTCPFixture.receiverReport, parsesTo: expected)
        try expectFixture(RTCPFixture.receiverReport, parsesTo: RTCPPacket.receiverReport(expected))
    }

    @Test func profileSpecificExtensionIsKeptAndPaddedToAWord() throws {
        let bytes: [UInt8] = [
            0xa0, 0xc9, 0x00, 0x02,  // V=2 P=1 RC=0, PT=201 RR, length=2 (12 bytes)
            0x90, 0x2f, 0x9e, 0x2e,  // sender SSRC 0x902F9E2E
            0xab, 0xcd, 0x00, 0x02,  // extension 0xAB 0xCD; padding 0x00, count 2
        ]
        let expected = RTCPReceiverReport(ssrc: SSRC(0x902f_9e2e), profileExtension: [0xab, 0xcd])
        try expectFixture(bytes, parsesTo: expected)
    }

    @Test func senderReportExtensionAfterItsBlocksIsKept() throws {
        var bytes = RTCPFixture.senderReport + [0x01, 0x02, 0x03, 0x04]  // one extension word
        bytes[3] = 13  // length 13 words
        var expected = Self.fixtureSenderReport
        expected.profileExtension = [0x01, 0x02, 0x03, 0x04]
        try expectFixture(bytes, parsesTo: expected)
    }

    @Test func cumulativeLossBeyond24BitsIsClampedWhenSerialized() throws {
        var report = RTCPReceiverReport(ssrc: SSRC(1), reportBlocks: [
            RTCPReportBlock(ssrc: SSRC(2), cumulativeLost: 10_000_000, extendedHighestSequenceNumber: 0),
            RTCPReportBlock(ssrc: SSRC(3), cumulativeLost: -10_000_000, extendedHighestSequenceNumber: 0),
        ])
        let bytes = report.serialize()
        #expect(Array(bytes[13..<16]) == [0x7f, 0xff, 0xff])  // +8 388 607
        #expect(Array(bytes[37..<40]) == [0x80, 0x00, 0x00])  // −8 388 608
        report = try RTCPReceiverReport(parsing: bytes)
        #expect(report.reportBlocks.map(\.cumulativeLost) == [8_388_607, -8_388_608])
    }

    @Test func receiverReportShorterThanItsLengthFieldIsRejected() {
        #expect(throws: WireError.lengthMismatch(field: "RTCP length", declared: 32, actual: 28)) {
            try RTCPCompoundPacket(parsing: Array(RTCPFixture.receiverReport.dropLast(4)))
        }
    }

    @Test func receiverReportWithMoreBlocksThanItsLengthHoldsIsRejected() {
        var bytes = RTCPFixture.receiverReport
        bytes[0] = 0x82  // RC=2, one block present
        #expect(throws: WireError.truncated(field: "report block SSRC", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func receiverReportCutInsideABlockIsRejected() {
        var bytes = Array(RTCPFixture.receiverReport.prefix(20))  // up to the extended highest sequence
        bytes[3] = 4  // length 4 words: the block stops before its jitter
        #expect(throws: WireError.truncated(field: "report block jitter", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func receiverReportWithoutItsSSRCIsRejected() {
        #expect(throws: WireError.truncated(field: "RR sender SSRC", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: [0x80, 0xc9, 0x00, 0x00])
        }
    }

    @Test func senderReportShorterThanItsSenderInfoIsRejected() {
        var bytes = Array(RTCPFixture.senderReport.prefix(20))  // SSRC, NTP, RTP timestamp
        bytes[0] = 0x80  // RC=0
        bytes[3] = 4
        #expect(throws: WireError.truncated(field: "SR packet count", needed: 4, available: 0)) {
            try RTCPCompoundPacket(parsing: bytes)
        }
    }

    @Test func roundTripTimeIsArrivalMinusLSRMinusDLSR() {
        let block = RTCPReportBlock(
            ssrc: SSRC(1), extendedHighestSequenceNumber: 0,
            lastSenderReport: 0x0001_0000,  // SR sent at 1 s (16.16 fixed point)
            delaySinceLastSenderReport: 0x0000_8000)  // held 0.5 s at the receiver
        #expect(block.roundTripTime(arrival: 0x0002_0000) == .milliseconds(500))  // back at 2 s
        #expect(block.roundTripTime(arrival: 0x0001_4000) == .milliseconds(-250))  // clocks disagree
        #expect(RTCPReportBlock(ssrc: SSRC(1), extendedHighestSequenceNumber: 0).roundTripTime(arrival: 5) == nil)
    }

    @Test func ntpTimestampFromAnInstantIsFixedPointSeconds() {
        let ntp = NTPTimestamp(MonotonicInstant(nanoseconds: 1_500_000_000))
        #expect(ntp.rawValue == 0x0000_0001_8000_0000)  // 1 s and 0x80000000 / 2^32 = 0.5 s
        #expect(ntp.compact == 0x0001_8000)
        #expect(NTPTimestamp(MonotonicInstant(nanoseconds: -500_000_000)).rawValue == 0xffff_ffff_8000_0000)
    }
}
