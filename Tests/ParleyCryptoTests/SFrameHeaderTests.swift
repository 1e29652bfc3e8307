@testable import ParleyCrypto
import ParleyWire
import Testing

/// Headers as sent, one row per field.
private let headerFixtures: [(keyID: UInt64, counter: UInt64, bytes: [UInt8])] = [
    (0, 0, [
        0x00,  // X=0 K=0: KID 0 | Y=0 C=0: CTR 0
    ]),
    (7, 5, [
        0x75,  // X=0 K=7: KID 7 | Y=0 C=5: CTR 5
    ]),
    (3, 8, [
        0x38,  // X=0 K=3: KID 3 | Y=1 C=0: 1 CTR byte
        0x08,  // CTR 8
    ]),
    (8, 2, [
        0x82,  // X=1 K=0: 1 KID byte | Y=0 C=2: CTR 2
        0x08,  // KID 8
    ]),
    (0x123, 0x4567, [
        0x99,  // X=1 K=1: 2 KID bytes | Y=1 C=1: 2 CTR bytes
        0x01, 0x23,  // KID 0x0123
        0x45, 0x67,  // CTR 0x4567
    ]),
    (0xFF, 0x1_0000_0000, [
        0x8C,  // X=1 K=0: 1 KID byte | Y=1 C=4: 5 CTR bytes
        0xFF,  // KID 255
        0x01, 0x00, 0x00, 0x00, 0x00,  // CTR 2^32
    ]),
    (UInt64.max, UInt64.max, [
        0xFF,  // X=1 K=7: 8 KID bytes | Y=1 C=7: 8 CTR bytes
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // KID 2^64 − 1
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // CTR 2^64 − 1
    ]),
]

/// Buffers that are not a header, each with the error it must give.
private let malformedHeaders: [(bytes: [UInt8], error: WireError)] = [
    ([], .truncated(field: "SFrame config byte", needed: 1, available: 0)),
    ([0x80], .truncated(field: "SFrame KID", needed: 1, available: 0)),  // X=1 K=0, KID byte missing
    ([0xF0, 1, 2, 3], .truncated(field: "SFrame KID", needed: 8, available: 3)),  // X=1 K=7, 8 KID bytes
    ([0x88, 0x10], .truncated(field: "SFrame CTR", needed: 1, available: 0)),  // KID 16, CTR byte missing
    ([0x0F, 0, 0, 0, 0, 0, 0, 1], .truncated(field: "SFrame CTR", needed: 8, available: 7)),
    ([0x80, 0x05], .invalidValue(  // KID 5 belongs in the config byte
        field: "SFrame KID", reason: "5 in 1 bytes is not the minimal encoding (RFC 9605 §4.3)")),
    ([0x90, 0x00, 0x10], .invalidValue(  // KID 16 with a leading zero byte
        field: "SFrame KID", reason: "16 in 2 bytes is not the minimal encoding (RFC 9605 §4.3)")),
    ([0x09, 0x00, 0xFF], .invalidValue(  // CTR 255 with a leading zero byte
        field: "SFrame CTR", reason: "255 in 2 bytes is not the minimal encoding (RFC 9605 §4.3)")),
    ([0x08, 0x07], .invalidValue(  // CTR 7 belongs in the config byte
        field: "SFrame CTR", reason: "7 in 1 bytes is not the minimal encoding (RFC 9605 §4.3)")),
]

@Suite struct SFrameHeaderTests {
    @Test func fixturesParseAndSerializeToTheSameBytes() throws {
        for fixture in headerFixtures {
            let header = try SFrameHeader(parsing: fixture.bytes)
            #expect(header == SFrameHeader(keyID: fixture.keyID, counter: fixture.counter))
            #expect(header.serialize() == fixture.bytes)
            #expect(header.serializedSize == fixture.bytes.count)
            var writer = ByteWriter()
            header.serialize(into: &writer)
            #expect(writer.bytes == fixture.bytes)
        }
    }

    @Test func eachMalformedHeaderFailsWithItsOwnError() {
        for fixture in malformedHeaders {
            #expect(throws: CryptoError.malformed(fixture.error), "\(fixture.bytes)") {
                try SFrameHeader(parsing: fixture.bytes)
            }
        }
    }

    @Test func bytesAfterAWholeHeaderAreALengthMismatchButAReaderStopsBeforeThem() throws {
        #expect(throws: CryptoError.malformed(.lengthMismatch(field: "SFrame header", declared: 1, actual: 3))) {
            try SFrameHeader(parsing: [0x00, 0xAA, 0xBB])
        }
        var reader = ByteReader([0x99, 0x01, 0x23, 0x45, 0x67, 0xAA])
        #expect(try SFrameHeader(reading: &reader) == SFrameHeader(keyID: 0x123, counter: 0x4567))
        #expect(Array(reader.readRest()) == [0xAA])
    }

    @Test func headerOfASliceParsesAtTheSlicesOffset() throws {
        let buffer: [UInt8] = [0xEE, 0xEE, 0x99, 0x01, 0x23, 0x45, 0x67]
        #expect(try SFrameHeader(parsing: buffer[2...]) == SFrameHeader(keyID: 0x123, counter: 0x4567))
        #expect(throws: CryptoError.malformed(.truncated(field: "SFrame CTR", needed: 2, available: 1))) {
            try SFrameHeader(parsing: buffer[2..<6])
        }
    }

    @Test func everyValueWidthRoundTripsWithTheSmallestEncoding() throws {
        var random = SplitMix64(seed: 0x5F_4A3E)
        for _ in 0..<5_000 {
            // Values of every bit length, so every K/C length and the 0…7 inline range occur.
            let keyID = random.next() >> UInt64.random(in: 0...63, using: &random)
            let counter = random.next() >> UInt64.random(in: 0...63, using: &random)
            let header = SFrameHeader(keyID: keyID, counter: counter)
            let encoded = header.serialize()
            #expect(encoded.count == header.serializedSize && (1...SFrameHeader.maximumSize).contains(encoded.count))
            #expect(encoded.count == 1 + Self.minimalLength(keyID) + Self.minimalLength(counter))
            #expect(try SFrameHeader(parsing: encoded) == header)
        }
    }

    @Test func randomAndMutatedBuffersNeverTrapAndWhatDecodesReencodesIdentically() throws {
        var random = SplitMix64(seed: 0xF0_2217)
        var decoded = 0
        for round in 0..<20_000 {
            let input: [UInt8]
            if round % 2 == 0 {
                input = (0..<Int.random(in: 0...20, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                let seed = headerFixtures[round / 2 % headerFixtures.count].bytes
                input = random.mutated(seed, changes: 1...4)
            }
            guard let header = try? SFrameHeader(parsing: input) else {
                // Reading a prefix must fail too, or stop inside the buffer.
                var reader = ByteReader(input)
                if (try? SFrameHeader(reading: &reader)) != nil { #expect(reader.remaining > 0, "input \(input)") }
                continue
            }
            decoded += 1
            // Minimal encoding is the only one accepted, so re-encoding gives the very same bytes.
            #expect(header.serialize() == input, "input \(input)")
            #expect(try SFrameHeader(parsing: header.serialize()) == header)
        }
        #expect(decoded > 2_000)
    }

    private static func minimalLength(_ value: UInt64) -> Int {
        if value < 8 { return 0 }
        var length = 1
        while length < 8 && value >> UInt64(8 * length) != 0 { length += 1 }
        return length
    }
}

