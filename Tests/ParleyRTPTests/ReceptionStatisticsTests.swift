import ParleyRTP
import ParleyWire
import Testing

@Suite struct ReceptionStatisticsTests {
    /// Records `numbers` as audio packets 20 ms apart in arrival order (jitter stays 0).
    private func record(_ numbers: [UInt16], into statistics: inout ReceptionStatistics) {
        for number in numbers {
            let counted = statistics.record(
                sequenceNumber: SequenceNumber(number), timestamp: RTPTimestamp(UInt32(number) * 160),
                arrival: .zero + .milliseconds(20 * Int64(number)))
            #expect(counted, "packet \(number) should be counted")
        }
    }

    /// The report block at `now`, which must exist.
    private func makeReport(_ statistics: inout ReceptionStatistics, now: MonotonicInstant = .zero) throws -> RTCPReportBlock {
        let block = statistics.makeReportBlock(now: now)
        return try #require(block)
    }

    @Test func lossWithGapsDuplicatesAndReorderingAcrossTheWrap() throws {
        var statistics = ReceptionStatistics(ssrc: SSRC(0xbc5e_9a40), clockRate: 8000)
        // 65532 and 1 are lost; 65534 and 2 arrive late; 0 arrives twice.
        record([65530, 65531, 65533, 65535, 65534, 0, 0, 3, 2], into: &statistics)
        #expect(statistics.receivedCount == 9)
        #expect(statistics.extendedHighestSequenceNumber == 65536 + 3)  // one wrap, then 3
        #expect(statistics.expectedCount == 10)  // 65530 … 65539
        #expect(statistics.cumulativeLost == 1)  // two lost, one duplicate
        let first = try makeReport(&statistics)
        #expect(first == RTCPReportBlock(
            ssrc: SSRC(0xbc5e_9a40), fractionLost: 25,  // 1 of 10: 256 / 10 = 25
            cumulativeLost: 1, extendedHighestSequenceNumber: 0x0001_0003))

        record([4, 5, 6, 8], into: &statistics)  // 7 lost
        let second = try makeReport(&statistics)
        #expect(second.fractionLost == 51)  // 1 of 5 expected in this interval: 256 / 5 = 51
        #expect(second.cumulativeLost == 2)
        #expect(second.extendedHighestSequenceNumber == 0x0001_0008)

        let idle = try makeReport(&statistics)
        #expect(idle.fractionLost == 0)
        #expect(idle.cumulativeLost == 2)

        record([8, 8], into: &statistics)  // duplicates only: nothing more expected
        let duplicates = try makeReport(&statistics)
        #expect(duplicates.fractionLost == 0)
        #expect(duplicates.cumulativeLost == 0)
    }

    @Test func duplicatesMakeCumulativeLossNegative() throws {
        var statistics = ReceptionStatistics(ssrc: SSRC(1), clockRate: 8000)
        record([1, 1, 1], into: &statistics)
        let block = try makeReport(&statistics)
        #expect(block.cumulativeLost == -2)
        #expect(block.fractionLost == 0)
    }

    @Test func farJumpIsIgnoredUntilTheNextPacketFollowsIt() {
        var statistics = ReceptionStatistics(ssrc: SSRC(1), clockRate: 8000)
        record([10, 11], into: &statistics)
        func offer(_ number: UInt16) -> Bool {
            statistics.record(sequenceNumber: SequenceNumber(number), timestamp: RTPTimestamp(0), arrival: .zero)
        }
        #expect(!offer(20_000))
        #expect(!offer(65_347))  // 200 behind
        #expect(statistics.receivedCount == 2)
        #expect(statistics.extendedHighestSequenceNumber == 11)
        // 65348 follows the ignored 65347: the source restarted, statistics start again from it.
        #expect(offer(65_348))
        #expect(statistics.receivedCount == 1)
        #expect(statistics.expectedCount == 1)
        #expect(statistics.extendedHighestSequenceNumber == 65_348)
    }

    @Test func cumulativeLossIsClampedTo24Bits() throws {
        var statistics = ReceptionStatistics(ssrc: SSRC(1), clockRate: 8000)
        for step in 0..<2800 {  // each packet 2999 after the last, just inside the 3000 allowed
            statistics.record(
                sequenceNumber: SequenceNumber(UInt16(truncatingIfNeeded: step * 2999)),
                timestamp: RTPTimestamp(0), arrival: .zero)
        }
        #expect(statistics.expectedCount == 2799 * 2999 + 1)
        #expect(statistics.cumulativeLost == 2799 * 2999 + 1 - 2800)  // 8 391 402
        let block = try makeReport(&statistics)
        #expect(block.cumulativeLost == 8_388_607)
        #expect(block.fractionLost == 255)
        #expect(block.extendedHighestSequenceNumber == 2799 * 2999)
    }

    @Test func jitterFollowsTheRFC3550A8FormulaByHand() throws {
        // 8 kHz: 1 ms = 8 timestamp units. Packets sent every 20 ms (160 units).
        //   packet  timestamp  arrival  arrival units  transit  |D|  J = J + (|D| − J) / 16
        //   0       0          100 ms    800            800      —    0
        //   1       160        121 ms    968            808      8    0.5
        //   2       320        139 ms   1112            792     16    0.5 + 15.5 / 16 = 1.46875
        //   3       480        160 ms   1280            800      8    1.46875 + 6.53125 / 16 = 1.876953125
        for base: UInt32 in [0, 0xffff_ff00] {  // the second run wraps the RTP timestamp after packet 1
            var statistics = ReceptionStatistics(ssrc: SSRC(1), clockRate: 8000)
            let arrivals: [Int64] = [100, 121, 139, 160]
            var jitters: [Double] = []
            for (index, milliseconds) in arrivals.enumerated() {
                statistics.record(
                    sequenceNumber: SequenceNumber(UInt16(index)), timestamp: RTPTimestamp(base &+ UInt32(index) * 160),
                    arrival: .zero + .milliseconds(milliseconds))
                jitters.append(statistics.jitter)
            }
            #expect(jitters == [0, 0.5, 1.46875, 1.876953125])
            #expect(try makeReport(&statistics).jitter == 1)
        }
    }

    @Test func reportBlockCarriesLSRAndDLSRFromTheLastSenderReport() throws {
        var statistics = ReceptionStatistics(ssrc: SSRC(1), clockRate: 90_000)
        record([7], into: &statistics)
        let withoutSenderReport = try makeReport(&statistics, now: .zero + .seconds(1))
        #expect(withoutSenderReport.lastSenderReport == 0)
        #expect(withoutSenderReport.delaySinceLastSenderReport == 0)

        statistics.recordSenderReport(
            ntpTimestamp: NTPTimestamp(rawValue: 0x0001_2345_6789_abcd), arrival: .zero + .seconds(1))
        let block = try makeReport(&statistics, now: .zero + .milliseconds(2500))
        #expect(block.lastSenderReport == 0x2345_6789)  // the middle 32 bits
        #expect(block.delaySinceLastSenderReport == 98_304)  // 1.5 s × 65536
    }

    @Test func noReportBlockBeforeAnyPacket() {
        var statistics = ReceptionStatistics(ssrc: SSRC(1), clockRate: 48_000)
        let block = statistics.makeReportBlock(now: .zero)
        #expect(block == nil)
        #expect(statistics.expectedCount == 0)
        #expect(statistics.cumulativeLost == 0)
    }
}
