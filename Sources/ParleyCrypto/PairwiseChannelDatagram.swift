internal import Crypto
internal import Foundation
public import ParleyWire

/// The header of a pairwise-channel datagram (Protocols/peer/v1.md §1, channel.md §2). It is also the
/// AEAD associated data of the ciphertext that follows.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  type = 0x06  |               reserved (all zero)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        receiver index                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         counter (64 bits)                     |
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        AES-256-GCM ciphertext of the plaintext (records) …    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      tag (16 bytes)                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct PairwiseChannelHeader: Hashable, Sendable {
    /// The first byte of every channel datagram.
    public static let type: UInt8 = 0x06
    /// Bytes of the header.
    public static let size = 16
    /// Bytes of the AES-GCM tag after the ciphertext.
    public static let tagSize = 16
    /// The smallest datagram: a header and a tag (an empty plaintext).
    public static let minimumDatagramSize = size + tagSize
    /// The one counter value never used: Noise reserves nonce 2^64 − 1 for Rekey().
    public static let reservedCounter = UInt64.max

    /// The index the *receiver* picked for this call (v1.md §1.1).
    public var receiverIndex: UInt32
    /// The sender's datagram counter: the AEAD nonce, and the replay-window position.
    public var counter: UInt64

    /// A header for `receiverIndex` and `counter`.
    public init(receiverIndex: UInt32, counter: UInt64) {
        self.receiverIndex = receiverIndex
        self.counter = counter
    }

    /// Reads a header from the front of `reader`, leaving it at the ciphertext.
    ///
    /// - Throws: `WireError` for a short buffer, another datagram type, non-zero reserved bytes, or the
    ///   reserved counter 2^64 − 1.
    public init(reading reader: inout ByteReader) throws(WireError) {
        try reader.readDatagramStart(expecting: Self.type, field: "datagram type") {
            "a channel datagram starts with 0x06, got \($0)"
        }
        receiverIndex = try reader.readUInt32("receiver index")
        counter = try reader.readUInt64("counter")
        guard counter != Self.reservedCounter else {
            throw .invalidValue(field: "counter", reason: "2^64 - 1 is reserved")
        }
    }

    /// Bytes `serialize()` produces.
    public var serializedSize: Int { Self.size }

    /// The header as sent.
    public func serialize() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.size)
        serialize(into: &writer)
        return writer.bytes
    }

    /// Appends the header to `writer`.
    public func serialize(into writer: inout ByteWriter) {
        writer.writeUInt8(Self.type)
        writer.writeUInt24(0)
        writer.writeUInt32(receiverIndex)
        writer.writeUInt64(counter)
    }
}

/// One direction's AES-256-GCM key of one epoch, used the way Noise's CipherState uses it (Noise rev 34
/// §5.1, AESGCM §12.3): nonce = 32 zero bits ‖ the 64-bit counter, big-endian; output = ciphertext ‖ tag.
struct PairwiseChannelKey: Sendable {
    private let key: SymmetricKey

    /// The key with these 32 bytes.
    init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a channel key is 32 bytes")
        key = SymmetricKey(data: bytes)
    }

    private init(key: SymmetricKey) {
        self.key = key
    }

    /// `ENCRYPT(k, counter, header, plaintext)`: ciphertext ‖ 16-byte tag.
    func seal(_ plaintext: [UInt8], counter: UInt64, associatedData: [UInt8]) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: Self.nonce(counter), authenticating: associatedData)
            return Array(box.ciphertext) + Array(box.tag)
        } catch {
            // A 32-byte key and a 12-byte nonce cannot be refused: this is a broken invariant, not input.
            preconditionFailure("AES-GCM refused a valid key and nonce: \(error)")
        }
    }

    /// `DECRYPT(k, counter, header, ciphertext ‖ tag)`, or `nil` if the tag does not verify.
    func open(_ sealed: ArraySlice<UInt8>, counter: UInt64, associatedData: ArraySlice<UInt8>) -> [UInt8]? {
        guard sealed.count >= PairwiseChannelHeader.tagSize else { return nil }
        let split = sealed.endIndex - PairwiseChannelHeader.tagSize
        guard let box = try? AES.GCM.SealedBox(nonce: Self.nonce(counter), ciphertext: sealed[..<split], tag: sealed[split...]),
            let plaintext = try? AES.GCM.open(box, using: key, authenticating: associatedData)
        else { return nil }
        return Array(plaintext)
    }

    /// Noise `REKEY(k)`: the first 32 bytes of `ENCRYPT(k, 2^64 − 1, empty, 32 zero bytes)`.
    func rekeyed() -> PairwiseChannelKey {
        let sealed = seal([UInt8](repeating: 0, count: 32), counter: PairwiseChannelHeader.reservedCounter, associatedData: [])
        return PairwiseChannelKey(key: SymmetricKey(data: sealed.prefix(32)))
    }

    private static func nonce(_ counter: UInt64) -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 {
            bytes[4 + index] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * index))
        }
        // 12 bytes is always a valid GCM nonce.
        return try! AES.GCM.Nonce(data: bytes)
    }
}
