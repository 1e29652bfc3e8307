import ParleyWire

/// SFrame (RFC 9605) protection of media frames, end to end: a `Sender` per outgoing stream and a
/// `Receiver` per incoming one.
///
/// RFC 9605 §4.4.1 requires each base key to be usable for encryption or for decryption, never both:
/// the two sides are separate types, so a key handed to a `Receiver` can never encrypt.
///
/// An SFrame ciphertext is `header ‖ ciphertext ‖ tag`; the AAD is the header exactly as sent (and, on
/// receive, exactly as received) followed by the caller's metadata, e.g. the frame facts carried in
/// RTP so a forwarder can see them. Both sides are final classes with one owner (e.g. an actor), never
/// copied, so a (key, nonce) pair is never reused; they are not `Sendable` and take no locks. Base keys
/// are expanded once, when added (AES keys and the keyed HMAC kept); per frame there is no HKDF, the
/// nonce and AAD are built on the stack, and the allocations are the output plus what swift-crypto's
/// AEAD calls make inside (and one staging copy for its GCM open).
public enum SFrameContext {
    /// The sending side of one stream: the current KID and the next CTR.
    ///
    /// Never repeats a (KID, CTR): the counter only moves forward, a KID once used is refused on
    /// rotation, and when the counter passes `maximumCounter` protection throws
    /// `CryptoError.keyExhausted` (rotate to a new KID) instead of wrapping.
    ///
    /// A class, not a value: one owner; never copied, so a (key, nonce) pair is never reused. Every
    /// reference to a sender shares its one counter, so no stale copy can hand out a CTR again. Not
    /// `Sendable`: keep it in one isolation domain (e.g. an actor).
    public final class Sender {
        /// The suite frames are protected with.
        public let suite: SFrameCipherSuite
        /// The highest CTR any one KID may use; the caller may set it lower to force earlier rotation.
        public let maximumCounter: UInt64
        /// The CTR the next frame gets, or `nil` once the current KID is exhausted.
        public private(set) var nextCounter: UInt64?
        private var key: SFrameKey
        private var usedKeyIDs: Set<UInt64>

        /// A sender protecting with `baseKey` under `keyID`, starting at CTR 0.
        ///
        /// - Throws: `CryptoError.invalidKey` if `baseKey` is shorter than 16 bytes.
        public convenience init(
            suite: SFrameCipherSuite = .default, keyID: UInt64, baseKey: [UInt8], maximumCounter: UInt64 = .max
        ) throws(CryptoError) {
            try self.init(
                suite: suite, keyID: keyID, baseKey: baseKey, maximumCounter: maximumCounter, firstCounter: 0)
        }

        /// A sender whose first frame gets `firstCounter` (tests: the published vectors, the top of the
        /// counter range). Not public: a sender always starts a fresh KID at 0.
        init(
            suite: SFrameCipherSuite, keyID: UInt64, baseKey: [UInt8], maximumCounter: UInt64, firstCounter: UInt64
        ) throws(CryptoError) {
            self.suite = suite
            self.maximumCounter = maximumCounter
            key = try SFrameContext.makeKey(suite: suite, keyID: keyID, baseKey: baseKey)
            nextCounter = firstCounter <= maximumCounter ? firstCounter : nil
            usedKeyIDs = [keyID]
        }

        /// The KID frames are protected with now.
        public var keyID: UInt64 { key.keyID }

        /// Whether the current KID has used every counter up to `maximumCounter`.
        public var isExhausted: Bool { nextCounter == nil }

        /// Switches to a new base key under a new `keyID`; the counter starts again at 0.
        ///
        /// - Throws: `CryptoError.invalidKey` if this sender used `keyID` before (that would repeat
        ///   (KID, CTR) pairs) or `baseKey` is shorter than 16 bytes; the sender is unchanged then.
        public func rotate(toKeyID keyID: UInt64, baseKey: [UInt8]) throws(CryptoError) {
            guard !usedKeyIDs.contains(keyID) else {
                throw .invalidKey(
                    what: "SFrame KID \(keyID)", reason: "already used by this sender; (KID, CTR) must never repeat")
            }
            key = try SFrameContext.makeKey(suite: suite, keyID: keyID, baseKey: baseKey)
            usedKeyIDs.insert(keyID)
            nextCounter = 0
        }

        /// Protects `frame`: returns `header ‖ ciphertext ‖ tag`, with `metadata` authenticated (not sent).
        ///
        /// - Throws: `CryptoError.keyExhausted` once the current KID has no counter left.
        public func protect(
            _ frame: ArraySlice<UInt8>, metadata: ArraySlice<UInt8> = []
        ) throws(CryptoError) -> [UInt8] {
            var output: [UInt8] = []
            try protect(frame, metadata: metadata, appendingTo: &output)
            return output
        }

        /// Protects `frame`: returns `header ‖ ciphertext ‖ tag`, with `metadata` authenticated (not sent).
        public func protect(_ frame: [UInt8], metadata: [UInt8] = []) throws(CryptoError) -> [UInt8] {
            try protect(frame[...], metadata: metadata[...])
        }

        /// Protects `frame`, appending `header ‖ ciphertext ‖ tag` to `output` (which may hold an
        /// earlier part of a packet, or be reused with its capacity from frame to frame).
        ///
        /// - Throws: `CryptoError.keyExhausted` once the current KID has no counter left; `output` is
        ///   unchanged then.
        public func protect(
            _ frame: ArraySlice<UInt8>, metadata: ArraySlice<UInt8>, appendingTo output: inout [UInt8]
        ) throws(CryptoError) {
            guard let counter = nextCounter, counter <= maximumCounter else {
                nextCounter = nil
                throw .keyExhausted(what: "SFrame KID \(key.keyID)")
            }
            // The counter is spent before sealing: whatever happens next, it is never used again.
            nextCounter = counter < maximumCounter ? counter + 1 : nil
            let header = SFrameHeader(keyID: key.keyID, counter: counter)
            let key = self.key
            let start = output.count
            output.reserveCapacity(start + header.serializedSize + frame.count + suite.tagByteCount)
            do throws(CryptoError) {
                try withUnsafeTemporaryAllocation(
                    byteCount: SFrameHeader.maximumSize + metadata.count, alignment: 8
                ) { (aadBuffer) throws(CryptoError) in
                    let headerSize = header.write(to: aadBuffer)
                    let aadSize = headerSize + metadata.count
                    UnsafeMutableRawBufferPointer(rebasing: aadBuffer[headerSize..<aadSize]).copyBytes(from: metadata)
                    let aad = UnsafeRawBufferPointer(rebasing: aadBuffer[..<aadSize])
                    output.append(contentsOf: aad.prefix(headerSize))
                    try key.withNonce(counter: counter) { (nonce) throws(CryptoError) in
                        try key.aead.seal(frame, nonce: nonce, aad: aad, appendingTo: &output)
                    }
                }
            } catch {
                output.removeSubrange(start...)
                throw error
            }
        }
    }

    /// The receiving side of one stream (one sender): the keys of the sender's live KIDs, each with its
    /// CTR replay window.
    ///
    /// Keys are added as the sender announces them and removed after their grace period. A KID is
    /// never reused by a sender, so a removed KID cannot be added again (frames recorded under it stay
    /// unreplayable). Separate senders may use the same KIDs: give each its own `Receiver`.
    ///
    /// A class, not a value: one owner; never copied, so a stale copy can never accept a CTR the
    /// receiver already took (every reference shares the one replay window per KID). Not `Sendable`:
    /// keep it in one isolation domain (e.g. an actor).
    public final class Receiver {
        /// The suite frames are protected with.
        public let suite: SFrameCipherSuite
        /// Width of each KID's CTR replay window (a multiple of 64).
        public let replayWindowWidth: Int
        /// The default replay window width: 1024 frames, about 34 s of 30 fps video.
        public static let defaultReplayWindowWidth = 1_024
        private var keys: [UInt64: ReceiveKey] = [:]
        private var removedKeyIDs: Set<UInt64> = []

        private struct ReceiveKey: Sendable {
            var key: SFrameKey
            var window: ReplayWindow
        }

        /// A receiver with no keys yet.
        ///
        /// - Parameter replayWindowWidth: how far below the highest CTR seen a frame may arrive and
        ///   still be accepted (once); rounded up to a multiple of 64.
        public init(suite: SFrameCipherSuite = .default, replayWindowWidth: Int = Receiver.defaultReplayWindowWidth) {
            self.suite = suite
            self.replayWindowWidth = ReplayWindow(minimumWidth: replayWindowWidth).width
        }

        /// The KIDs that can be decrypted now, ascending.
        public var keyIDs: [UInt64] { keys.keys.sorted() }

        /// Whether frames under `keyID` can be decrypted now.
        public func hasKey(_ keyID: UInt64) -> Bool { keys[keyID] != nil }

        /// Adds the base key of `keyID`, deriving its key and salt once. Adding the same base key again
        /// changes nothing (announcements may be repeated); its replay window is kept.
        ///
        /// - Throws: `CryptoError.invalidKey` if `keyID` already has a different key, was removed
        ///   before, or `baseKey` is shorter than 16 bytes.
        public func addKey(keyID: UInt64, baseKey: [UInt8]) throws(CryptoError) {
            guard !removedKeyIDs.contains(keyID) else {
                throw .invalidKey(what: "SFrame KID \(keyID)", reason: "was removed; a KID is never reused")
            }
            let key = try SFrameContext.makeKey(suite: suite, keyID: keyID, baseKey: baseKey)
            if let existing = keys[keyID] {
                guard existing.key.hasSameMaterial(as: key) else {
                    throw .invalidKey(what: "SFrame KID \(keyID)", reason: "already has a different key")
                }
                return
            }
            keys[keyID] = ReceiveKey(key: key, window: ReplayWindow(width: replayWindowWidth))
        }

        /// Forgets `keyID` (its grace period is over); frames under it then fail with `unknownKey`.
        /// Returns whether it was present.
        @discardableResult
        public func removeKey(keyID: UInt64) -> Bool {
            removedKeyIDs.insert(keyID)
            return keys.removeValue(forKey: keyID) != nil
        }

        /// Authenticates and decrypts one SFrame ciphertext (`header ‖ ciphertext ‖ tag`), with
        /// `metadata` as the extra AAD the sender used. The CTR is recorded only if it authenticates.
        ///
        /// - Throws: `CryptoError.malformed` (bad header, shorter than a tag), `.unknownKey` (no key
        ///   for its KID), `.replayed` (CTR seen before or older than the window),
        ///   `.authenticationFailed` (tampered, wrong key, wrong metadata).
        public func unprotect(
            _ sframe: ArraySlice<UInt8>, metadata: ArraySlice<UInt8> = []
        ) throws(CryptoError) -> [UInt8] {
            var reader = ByteReader(sframe)
            let header = try SFrameHeader(reading: &reader)
            let headerBytes = sframe[sframe.startIndex..<reader.position]
            let body = reader.readRest()
            guard let index = keys.index(forKey: header.keyID) else {
                throw .unknownKey(what: "SFrame", keyID: header.keyID)
            }
            guard keys.values[index].window.check(header.counter) == .fresh else {
                throw .replayed(what: "SFrame KID \(header.keyID)", counter: header.counter)
            }
            let key = keys.values[index].key
            let plaintext = try withUnsafeTemporaryAllocation(
                byteCount: headerBytes.count + metadata.count, alignment: 8
            ) { (aadBuffer) throws(CryptoError) -> [UInt8] in
                // AAD = the header bytes as received (never a re-encoding) ‖ metadata.
                aadBuffer.copyBytes(from: headerBytes)
                UnsafeMutableRawBufferPointer(rebasing: aadBuffer[headerBytes.count...]).copyBytes(from: metadata)
                return try key.withNonce(counter: header.counter) { (nonce) throws(CryptoError) -> [UInt8] in
                    try key.aead.open(body, nonce: nonce, aad: UnsafeRawBufferPointer(aadBuffer))
                }
            }
            keys.values[index].window.commit(header.counter)
            return plaintext
        }

        /// Authenticates and decrypts one SFrame ciphertext, with `metadata` as extra AAD.
        public func unprotect(_ sframe: [UInt8], metadata: [UInt8] = []) throws(CryptoError) -> [UInt8] {
            try unprotect(sframe[...], metadata: metadata[...])
        }
    }

    /// Base keys shorter than this are refused (RFC 9605 sets no minimum; 128 bits is Parley's floor).
    public static let minimumBaseKeySize = 16

    fileprivate static func makeKey(
        suite: SFrameCipherSuite, keyID: UInt64, baseKey: [UInt8]
    ) throws(CryptoError) -> SFrameKey {
        guard baseKey.count >= minimumBaseKeySize else {
            throw .invalidKey(
                what: "SFrame base key for KID \(keyID)",
                reason: "needs at least \(minimumBaseKeySize) bytes, got \(baseKey.count)")
        }
        return try SFrameKey(suite: suite, keyID: keyID, baseKey: baseKey)
    }
}
