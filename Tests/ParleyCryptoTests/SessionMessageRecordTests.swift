import ParleyCrypto
import ParleyWire
import Testing

/// Every record type, as Protocols/peer/channel.md §5 shows it.
let everySessionRecord: [(record: SessionMessageRecord, bytes: [UInt8])] = [
    (.keepAlive, [
        0x01, 0x00, 0x00,  // keep-alive, length 0
    ]),
    (.acknowledgement([SessionMessageID(1), SessionMessageID(0x0102_0304)]), [
        0x02, 0x00, 0x08,  // acknowledgement, length 8
        0x00, 0x00, 0x00, 0x01,  // id 1
        0x01, 0x02, 0x03, 0x04,  // id 0x01020304
    ]),
    (.message(SessionMessageID(7), .senderKeyAnnouncement([0xAA, 0xBB, 0xCC])), [
        0x81, 0x00, 0x07,  // sender key announcement, length 7
        0x00, 0x00, 0x00, 0x07,  // message id 7
        0xAA, 0xBB, 0xCC,  // opaque body
    ]),
    (.message(SessionMessageID(8), .senderKeyAcknowledgement(ssrc: SSRC(0xCAFE_BABE), keyID: 0x0102_0304_0506_0708)), [
        0x82, 0x00, 0x10,  // sender key acknowledgement, length 16
        0x00, 0x00, 0x00, 0x08,  // message id 8
        0xCA, 0xFE, 0xBA, 0xBE,  // SSRC
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // KID
    ]),
    (.message(SessionMessageID(9), .hangUp(.declined)), [
        0x83, 0x00, 0x06,  // hang-up, length 6
        0x00, 0x00, 0x00, 0x09,  // message id 9
        0x00, 0x02,  // reason 2, declined
    ]),
    (.message(SessionMessageID(10), .mediaState(.init(audioMuted: true, videoEnabled: false))), [
        0x84, 0x00, 0x05,  // media state, length 5
        0x00, 0x00, 0x00, 0x0A,  // message id 10
        0x01,  // audio muted, video off
    ]),
    (.message(SessionMessageID(11), .mediaState(.init(audioMuted: false, videoEnabled: true))), [
        0x84, 0x00, 0x05,  // media state, length 5
        0x00, 0x00, 0x00, 0x0B,  // message id 11
        0x02,  // audio on, video on
    ]),
]

@Suite struct SessionMessageRecordTests {
    @Test func everyRecordSerializesToItsBytesAndParsesBack() throws {
        for (record, bytes) in everySessionRecord {
            #expect(record.serialize() == bytes, "\(record)")
            #expect(record.serializedSize == bytes.count)
            #expect(try SessionMessageRecord.parsePlaintext(bytes) == [record])
        }
    }

    @Test func recordsFollowEachOtherAndPaddingEndsThem() throws {
        let plaintext = everySessionRecord.flatMap(\.bytes) + [0, 0, 0, 0, 0]
        #expect(try SessionMessageRecord.parsePlaintext(plaintext) == everySessionRecord.map(\.record))
        #expect(try SessionMessageRecord.parsePlaintext([]) == [])
        #expect(try SessionMessageRecord.parsePlaintext([0, 0, 0]) == [], "padding only")
    }

    @Test func nonZeroPaddingIsMalformed() {
        #expect(throws: WireError.invalidValue(field: "padding", reason: "padding bytes must be zero")) {
            try SessionMessageRecord.parsePlaintext([0x01, 0x00, 0x00, 0x00, 0x00, 0x01])
        }
    }

    @Test func unknownTypesAreSkippedAndKeepTheirMessageID() throws {
        let plaintext: [UInt8] = [
            0x7F, 0x00, 0x02, 0xDE, 0xAD,  // unknown type 0x7F (R = 0), 2 bytes
            0xC0, 0x00, 0x05, 0x00, 0x00, 0x00, 0x2A, 0xEE,  // unknown type 0xC0 (R = 1), id 42, 1 byte
            0x01, 0x00, 0x00,  // keep-alive
        ]
        #expect(try SessionMessageRecord.parsePlaintext(plaintext) == [
            .unknown(type: 0x7F, messageID: nil, body: [0xDE, 0xAD]),
            .unknown(type: 0xC0, messageID: SessionMessageID(42), body: [0xEE]),
            .keepAlive,
        ])
        let unknown = SessionMessageRecord.unknown(type: 0xC0, messageID: SessionMessageID(42), body: [0xEE])
        #expect(unknown.serialize() == Array(plaintext[5..<13]))
    }

    @Test func bytesAfterTheKnownFieldsAreIgnored() throws {
        let plaintext: [UInt8] = [
            0x83, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0xFF, 0xFF,  // hang-up busy + 2 future bytes
            0x84, 0x00, 0x06, 0x00, 0x00, 0x00, 0x02, 0xFF, 0x77,  // media state with unknown flags + 1 byte
            0x01, 0x00, 0x01, 0x55,  // keep-alive with a future byte
        ]
        #expect(try SessionMessageRecord.parsePlaintext(plaintext) == [
            .message(SessionMessageID(1), .hangUp(.busy)),
            .message(SessionMessageID(2), .mediaState(.init(audioMuted: true, videoEnabled: true))),
            .keepAlive,
        ])
    }

    @Test func unknownHangUpReasonsAreCarried() throws {
        let bytes: [UInt8] = [0x83, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x12, 0x34]
        #expect(try SessionMessageRecord.parsePlaintext(bytes) == [.message(SessionMessageID(1), .hangUp(.init(rawValue: 0x1234)))])
        #expect(SessionMessage.HangUpReason(rawValue: 0x1234).description == "reason 4660")
        #expect(SessionMessage.HangUpReason.failure.description == "failure")
    }

    @Test func eachTruncationFailsNamingItsField() {
        let cases: [([UInt8], WireError)] = [
            ([0x83], .truncated(field: "record length", needed: 2, available: 0)),
            ([0x83, 0x00], .truncated(field: "record length", needed: 2, available: 1)),
            ([0x83, 0x00, 0x06, 0x00], .truncated(field: "record value", needed: 6, available: 1)),
            ([0x83, 0x00, 0x02, 0x00, 0x00], .truncated(field: "message id", needed: 4, available: 2)),
            ([0x83, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00], .truncated(field: "hang-up reason", needed: 2, available: 1)),
            ([0x84, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01], .truncated(field: "media state flags", needed: 1, available: 0)),
            ([0x82, 0x00, 0x0C, 0x00, 0x00, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8],
             .truncated(field: "acknowledged KID", needed: 8, available: 4)),
            ([0x82, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 1, 2], .truncated(field: "acknowledged SSRC", needed: 4, available: 2)),
            ([0x02, 0x00, 0x00], .invalidValue(field: "acknowledgement length", reason: "must be a positive multiple of 4, got 0")),
            ([0x02, 0x00, 0x03, 0, 0, 1], .invalidValue(field: "acknowledgement length", reason: "must be a positive multiple of 4, got 3")),
            ([0x81, 0x00, 0x00], .truncated(field: "message id", needed: 4, available: 0)),
        ]
        for (bytes, error) in cases {
            #expect(throws: error, "\(bytes)") { try SessionMessageRecord.parsePlaintext(bytes) }
        }
    }

    @Test func paddingIsNotARecord() {
        var reader = ByteReader([0x00, 0x00, 0x00])
        #expect(throws: WireError.invalidValue(field: "record type", reason: "0x00 is padding, not a record")) {
            try SessionMessageRecord(reading: &reader)
        }
    }

    @Test func randomAndMutatedPlaintextsNeverTrapAndWhatParsesRoundTrips() throws {
        var random = SplitMix64(seed: 0x5E55_1011)
        let seed = everySessionRecord.flatMap(\.bytes)
        var parsedCount = 0
        for round in 0..<20_000 {
            var bytes = seed
            if round % 4 == 0 {
                bytes = (0..<Int.random(in: 0...48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let index = Int.random(in: 0..<bytes.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                    case 1: bytes[index] = UInt8.random(in: 0...255, using: &random)
                    default: bytes = Array(bytes.prefix(index))
                    }
                    if bytes.isEmpty { break }
                }
            }
            guard let records = try? SessionMessageRecord.parsePlaintext(bytes) else { continue }
            parsedCount += 1
            let again = try SessionMessageRecord.parsePlaintext(records.flatMap { $0.serialize() })
            #expect(again == records, "input \(bytes)")
        }
        #expect(parsedCount > 2_000)
    }
}
