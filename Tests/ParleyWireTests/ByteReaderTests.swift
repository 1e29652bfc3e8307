import ParleyWire
import Testing

@Suite struct ByteReaderTests {
    @Test func readsBigEndianFieldsInOrder() throws {
        var reader = ByteReader([
            0x01,  // UInt8
            0x02, 0x03,  // UInt16
            0x04, 0x05, 0x06,  // UInt24
            0x07, 0x08, 0x09, 0x0A,  // UInt32
            0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12,  // UInt64
            0xEE,  // rest
        ])
        #expect(try reader.readUInt8("a") == 0x01)
        #expect(try reader.readUInt16("b") == 0x0203)
        #expect(try reader.readUInt24("c") == 0x04_0506)
        #expect(try reader.readUInt32("d") == 0x0708_090A)
        #expect(try reader.readUInt64("e") == 0x0B0C_0D0E_0F10_1112)
        #expect(Array(reader.readRest()) == [0xEE])
        #expect(reader.isAtEnd)
    }

    @Test func shortBufferNamesTheTruncatedField() {
        var reader = ByteReader([0x01, 0x02, 0x03])
        #expect(throws: WireError.truncated(field: "timestamp", needed: 4, available: 3)) {
            try reader.readUInt32("timestamp")
        }
        #expect(reader.remaining == 3)  // a failed read consumes nothing
        #expect(throws: WireError.truncated(field: "data", needed: -1, available: 3)) {
            try reader.readBytes(-1, "data")
        }
    }

    @Test func writerProducesWhatTheReaderReads() throws {
        var writer = ByteWriter()
        writer.writeUInt8(0xAB)
        writer.writeUInt16(0xCDEF)
        writer.writeUInt24(0x12_3456)
        writer.writeUInt32(0x789A_BCDE)
        writer.writeUInt64(0x0102_0304_0506_0708)
        writer.writeZeros(2)
        writer.setUInt16(0xFFFF, at: 1)
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readUInt8("") == 0xAB)
        #expect(try reader.readUInt16("") == 0xFFFF)
        #expect(try reader.readUInt24("") == 0x12_3456)
        #expect(try reader.readUInt32("") == 0x789A_BCDE)
        #expect(try reader.readUInt64("") == 0x0102_0304_0506_0708)
        #expect(try reader.readUInt16("") == 0)
    }
}

@Suite struct UnwrappingTests {
    @Test func sequenceNumbersUnwrapForwardAcrossManyWraps() {
        var unwrapper = CounterUnwrapper<UInt16>()
        let start = unwrapper.unwrap(SequenceNumber(65_530))
        var previous = start
        var number = SequenceNumber(65_530)
        for _ in 0..<200_000 {
            number = number.advanced(by: 1)
            let next = unwrapper.unwrap(number)
            #expect(next.rawValue == previous.rawValue + 1)
            previous = next
        }
        #expect(previous.rawValue - start.rawValue == 200_000)
        #expect(previous.wrapped == number)
    }

    @Test func reorderedNumbersAcrossAWrapLandInTheRightCycle() {
        var unwrapper = CounterUnwrapper<UInt16>()
        let a = unwrapper.unwrap(SequenceNumber(65_534))
        let b = unwrapper.unwrap(SequenceNumber(1))  // after the wrap
        let c = unwrapper.unwrap(SequenceNumber(65_535))  // late, before the wrap
        let d = unwrapper.unwrap(SequenceNumber(0))
        #expect(b.rawValue - a.rawValue == 3)
        #expect(c.rawValue - a.rawValue == 1)
        #expect(d.rawValue - a.rawValue == 2)
        // Late numbers do not move the reference backwards.
        #expect(unwrapper.unwrap(SequenceNumber(2)).rawValue - a.rawValue == 4)
    }

    @Test func firstNumberStartsAboveZeroSoEarlierOnesStayPositive() {
        var unwrapper = CounterUnwrapper<UInt16>()
        let first = unwrapper.unwrap(SequenceNumber(3))
        let earlier = unwrapper.unwrap(SequenceNumber(65_000))
        #expect(earlier.rawValue == first.rawValue - 539)
        #expect(earlier.rawValue > 0)
    }

    @Test func timestampsUnwrapTo64Bits() {
        var unwrapper = CounterUnwrapper<UInt32>()
        let a = unwrapper.unwrap(RTPTimestamp(0xFFFF_FC40))
        let b = unwrapper.unwrap(RTPTimestamp(0x0000_03C0))  // 1920 ticks later, across the wrap
        #expect(b.rawValue - a.rawValue == 1_920)
        #expect(RTPTimestamp(0x0000_03C0).distance(from: RTPTimestamp(0xFFFF_FC40)) == 1_920)
    }

    @Test func sequenceNumberComparisonFollowsSerialArithmetic() {
        #expect(SequenceNumber(0).isNewer(than: SequenceNumber(65_535)))
        #expect(!SequenceNumber(65_535).isNewer(than: SequenceNumber(0)))
        #expect(!SequenceNumber(5).isNewer(than: SequenceNumber(5)))
        #expect(SequenceNumber(2).distance(from: SequenceNumber(65_534)) == 4)
    }
}

@Suite struct HexTests {
    @Test func hexRoundTripsAndIgnoresWhitespace() {
        #expect([UInt8](hexString: "00 ff\n0A b1") == [0x00, 0xFF, 0x0A, 0xB1])
        #expect([UInt8](0...255).hexString.count == 512)
        #expect([UInt8](hexString: [UInt8](0...255).hexString) == [UInt8](0...255))
        #expect([0xDE, 0xAD].hexString == "dead")
    }

    @Test func oddCountOrOtherCharactersAreRefused() {
        #expect([UInt8](hexString: "abc") == nil)
        #expect([UInt8](hexString: "0g") == nil)
        #expect([UInt8](hexString: "0x00") == nil)
    }
}
