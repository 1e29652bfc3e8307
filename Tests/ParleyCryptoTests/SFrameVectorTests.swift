import Crypto
import Foundation
@testable import ParleyCrypto
import ParleyWire
import Testing

/// The test vectors published with RFC 9605 (Appendix C), as a test resource byte-identical to the
/// RFC's JSON. KID and CTR go up to 2^64 − 1, so they decode as `UInt64` (JSONDecoder is exact for
/// `UInt64`; nothing goes through `Double`).
private struct SFrameVectors: Decodable {
    struct Header: Decodable {
        var kid: UInt64
        var ctr: UInt64
        var encoded: String
    }

    struct AESCTRHMAC: Decodable {
        var cipherSuite: UInt16
        var key: String
        var encKey: String
        var authKey: String
        var nonce: String
        var aad: String
        var pt: String
        var ct: String
    }

    struct Full: Decodable {
        var cipherSuite: UInt16
        var kid: UInt64
        var ctr: UInt64
        var baseKey: String
        var sframeKeyLabel: String
        var sframeSaltLabel: String
        var sframeSecret: String
        var sframeKey: String
        var sframeSalt: String
        var metadata: String
        var nonce: String
        var aad: String
        var pt: String
        var ct: String
    }

    var header: [Header]
    var aesCtrHmac: [AESCTRHMAC]
    var sframe: [Full]

    /// SHA-256 of the RFC's JSON file, checked before any vector is used.
    static let sha256 = "b8d35efd41749567427cb9ae52d9a7362904154978ff6a5fb20c0258a8ffdec1"

    static func fileBytes() throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "sframe-rfc9605", withExtension: "json", subdirectory: "Vectors"))
        return try Data(contentsOf: url)
    }

    static func load() throws -> SFrameVectors {
        let data = try fileBytes()
        try #require(hexString(Array(SHA256.hash(data: data))) == sha256, "sframe-rfc9605.json is not the RFC's file")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(SFrameVectors.self, from: data)
    }
}

private func bytes(_ hex: String) -> [UInt8] {
    [UInt8](hexString: hex)!
}

private func hexString(_ bytes: [UInt8]) -> String {
    bytes.hexString
}

@Suite struct SFrameVectorTests {
    @Test func vectorFileIsByteIdenticalToTheRFCs() throws {
        let data = try SFrameVectors.fileBytes()
        #expect(hexString(Array(SHA256.hash(data: data))) == SFrameVectors.sha256)
        let vectors = try SFrameVectors.load()
        #expect(vectors.header.count + vectors.aesCtrHmac.count + vectors.sframe.count == 297)
        // The extremes really arrived as 64-bit integers.
        #expect(vectors.header.contains { $0.kid == UInt64.max && $0.ctr == UInt64.max })
    }

    @Test func all289HeaderVectorsEncodeExactlyAndDecodeBack() throws {
        let vectors = try SFrameVectors.load()
        #expect(vectors.header.count == 289)
        for vector in vectors.header {
            let expected = bytes(vector.encoded)
            let header = SFrameHeader(keyID: vector.kid, counter: vector.ctr)
            #expect(header.serialize() == expected, "KID \(vector.kid) CTR \(vector.ctr)")
            #expect(header.serializedSize == expected.count)
            #expect(try SFrameHeader(parsing: expected) == header)
            // As the prefix of a ciphertext, the reader stops right after the header.
            var reader = ByteReader(expected + [0xAB, 0xCD])
            #expect(try SFrameHeader(reading: &reader) == header)
            #expect(reader.remaining == 2)
        }
    }

    @Test func threeAESCTRHMACVectorsSealAndOpenExactly() throws {
        let vectors = try SFrameVectors.load()
        #expect(vectors.aesCtrHmac.count == 3)
        for vector in vectors.aesCtrHmac {
            let suite = try #require(SFrameCipherSuite(rawValue: vector.cipherSuite))
            #expect(suite.isCounterModeWithHMAC)
            let key = bytes(vector.key)
            // The key split of RFC 9605 §4.5.1: enc_key = key[..Nka], auth_key = key[Nka..].
            let split = try #require(suite.encryptionKeyByteCount)
            #expect(Array(key[..<split]) == bytes(vector.encKey), "\(suite)")
            #expect(Array(key[split...]) == bytes(vector.authKey), "\(suite)")
            let aead = try SFrameAEAD(suite: suite, key: key)
            let nonce = bytes(vector.nonce)
            let aad = bytes(vector.aad)
            var sealed: [UInt8] = []
            try nonce.withUnsafeBytes { nonceBytes in
                try aad.withUnsafeBytes { aadBytes in
                    try aead.seal(bytes(vector.pt)[...], nonce: nonceBytes, aad: aadBytes, appendingTo: &sealed)
                }
            }
            #expect(sealed == bytes(vector.ct), "\(suite)")
            #expect(sealed.count == bytes(vector.pt).count + suite.tagByteCount)
            let opened = try nonce.withUnsafeBytes { nonceBytes in
                try aad.withUnsafeBytes { aadBytes in
                    try aead.open(bytes(vector.ct)[...], nonce: nonceBytes, aad: aadBytes)
                }
            }
            #expect(opened == bytes(vector.pt), "\(suite)")
        }
    }

    @Test func fiveFullVectorsMatchEveryPublishedField() throws {
        let vectors = try SFrameVectors.load()
        #expect(vectors.sframe.map(\.cipherSuite) == [1, 2, 3, 4, 5])
        for vector in vectors.sframe {
            let suite = try #require(SFrameCipherSuite(rawValue: vector.cipherSuite))
            let baseKey = bytes(vector.baseKey)
            // Key schedule (§4.4.2): labels, secret, key, salt.
            #expect(SFrameKey.keyLabel(suite: suite, keyID: vector.kid) == bytes(vector.sframeKeyLabel), "\(suite)")
            #expect(SFrameKey.saltLabel(suite: suite, keyID: vector.kid) == bytes(vector.sframeSaltLabel), "\(suite)")
            let derived = SFrameKey.derive(suite: suite, keyID: vector.kid, baseKey: baseKey)
            #expect(derived.secret == bytes(vector.sframeSecret), "\(suite)")
            #expect(derived.key == bytes(vector.sframeKey), "\(suite)")
            #expect(derived.salt == bytes(vector.sframeSalt), "\(suite)")
            #expect(derived.key.count == suite.keyByteCount && derived.salt.count == suite.nonceByteCount)
            // Nonce = salt XOR BE12(CTR).
            let key = try SFrameKey(suite: suite, keyID: vector.kid, baseKey: baseKey)
            #expect(key.nonce(counter: vector.ctr) == bytes(vector.nonce), "\(suite)")
            // AAD = header ‖ metadata.
            let header = SFrameHeader(keyID: vector.kid, counter: vector.ctr).serialize()
            let metadata = bytes(vector.metadata)
            #expect(header + metadata == bytes(vector.aad), "\(suite)")
            // The public sender, started at the vector's CTR, produces the published ciphertext exactly.
            let sender = try SFrameContext.Sender(
                suite: suite, keyID: vector.kid, baseKey: baseKey, maximumCounter: .max, firstCounter: vector.ctr)
            let protected = try sender.protect(bytes(vector.pt), metadata: metadata)
            #expect(protected == bytes(vector.ct), "\(suite)")
            #expect(sender.nextCounter == vector.ctr + 1)
            // And the public receiver opens it.
            let receiver = SFrameContext.Receiver(suite: suite)
            try receiver.addKey(keyID: vector.kid, baseKey: baseKey)
            #expect(try receiver.unprotect(bytes(vector.ct), metadata: metadata) == bytes(vector.pt), "\(suite)")
        }
    }
}
