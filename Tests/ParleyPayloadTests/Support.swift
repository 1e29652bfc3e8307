import Foundation
import ParleyRTP
import ParleyWire
import Testing

extension RandomNumberGenerator {
    /// `count` random bytes.
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// The records of a fixture file: each a 2-byte big-endian length, then that many bytes (RFC 4571 framing).
func fixtureRecords(_ name: String) throws -> [[UInt8]] {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: "bin", subdirectory: "Fixtures"))
    let bytes = [UInt8](try Data(contentsOf: url))
    var reader = ByteReader(bytes)
    var records: [[UInt8]] = []
    while !reader.isAtEnd {
        let length = Int(try reader.readUInt16("record length"))
        records.append(Array(try reader.readBytes(length, "record")))
    }
    return records
}

/// A video RTP header template: PT 96, SSRC 0x1234, timestamp 90 000.
func videoHeader(sequenceNumber: UInt16, timestamp: UInt32 = 90_000) -> RTPHeader {
    RTPHeader(
        payloadType: 96, sequenceNumber: SequenceNumber(sequenceNumber), timestamp: RTPTimestamp(timestamp),
        ssrc: SSRC(0x1234))
}

/// A frame of `count` bytes with a recognisable pattern.
func patternFrame(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}
