@testable import ParleyCrypto
import ParleyWire
import Testing

/// What an SFrame operation failed with, without the message strings.
private enum SFrameFailure: Equatable {
    case malformed, authenticationFailed, replayed(UInt64), unknownKey(UInt64), keyExhausted, invalidKey, other
}

private func failure(_ body: () throws -> Void) -> SFrameFailure? {
    do {
        try body()
        return nil
    } catch let error as CryptoError {
        switch error {
        case .malformed: return .malformed
        case .authenticationFailed: return .authenticationFailed
        case .replayed(_, let counter): return .replayed(counter)
        case .unknownKey(_, let keyID): return .unknownKey(keyID)
        case .keyExhausted: return .keyExhausted
        case .invalidKey: return .invalidKey
        default: return .other
        }
    } catch {
        return .other
    }
}

private let baseKeyA: [UInt8] = Array(0..<32)
private let baseKeyB: [UInt8] = Array(100..<132)

private func frame(_ size: Int, seed: Int = 0) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
}

@Suite struct SFrameContextTests {
    /// Every size up to 300 (all AES block and SHA-256 block boundaries, empty frames), then sizes spread
    /// over the rest of 0…5000 (a debug build is too slow for all 5001 of them in every suite).
    static let roundTripSizes = Array(0...300) + Array(stride(from: 301, through: 5_000, by: 67)) + [4_095, 4_096, 4_097, 5_000]

    @Test(arguments: SFrameCipherSuite.allCases)
    func protectThenUnprotectRoundTripsSizesUpTo5000(suite: SFrameCipherSuite) throws {
        let sender = try SFrameContext.Sender(suite: suite, keyID: 9, baseKey: baseKeyA)
        let receiver = SFrameContext.Receiver(suite: suite)
        try receiver.addKey(keyID: 9, baseKey: baseKeyA)
        var output: [UInt8] = []
        for (counter, size) in Self.roundTripSizes.enumerated() {
            let plaintext = frame(size, seed: size)
            let metadata = frame(size % 4 * 3, seed: 7)
            output.removeAll(keepingCapacity: true)
            try sender.protect(plaintext[...], metadata: metadata[...], appendingTo: &output)
            let header = SFrameHeader(keyID: 9, counter: UInt64(counter))
            #expect(output.count == header.serializedSize + size + suite.tagByteCount)
            #expect(Array(output.prefix(header.serializedSize)) == header.serialize())
            let opened = try receiver.unprotect(output, metadata: metadata)
            if opened != plaintext {
                Issue.record("\(suite): size \(size) did not round-trip")
                return
            }
        }
        #expect(sender.nextCounter == UInt64(Self.roundTripSizes.count))
    }

    @Test(arguments: SFrameCipherSuite.allCases)
    func tamperingAnySingleByteFailsAuthentication(suite: SFrameCipherSuite) throws {
        let sender = try SFrameContext.Sender(suite: suite, keyID: 300, baseKey: baseKeyA)
        for _ in 0..<8 { _ = try sender.protect(frame(10)) }  // CTR 0…7 spent: the frame below has a CTR byte
        let plaintext = frame(37)
        let metadata: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF, 0x01]
        let protected = try sender.protect(plaintext, metadata: metadata)
        let headerSize = SFrameHeader(keyID: 300, counter: 8).serializedSize
        let receiver = SFrameContext.Receiver(suite: suite)
        try receiver.addKey(keyID: 300, baseKey: baseKeyA)

        for index in protected.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var tampered = protected
                tampered[index] ^= mask
                let result = failure { _ = try receiver.unprotect(tampered, metadata: metadata) }
                if index < headerSize {
                    // A changed header may also no longer parse or name another KID; it never opens.
                    #expect(result != nil, "\(suite): header byte \(index) ^ \(mask) opened")
                } else {
                    #expect(result == .authenticationFailed, "\(suite): byte \(index) ^ \(mask)")
                }
            }
        }
        // The CTR bytes of the header are authenticated: a changed CTR fails authentication.
        var otherCounter = protected
        otherCounter[headerSize - 1] ^= 0x04
        #expect(failure { _ = try receiver.unprotect(otherCounter, metadata: metadata) } == .authenticationFailed)
        // Every metadata byte is authenticated, and so is its length.
        for index in metadata.indices {
            var tampered = metadata
            tampered[index] ^= 0x01
            #expect(failure { _ = try receiver.unprotect(protected, metadata: tampered) } == .authenticationFailed)
        }
        #expect(failure { _ = try receiver.unprotect(protected, metadata: metadata + [0]) } == .authenticationFailed)
        #expect(failure { _ = try receiver.unprotect(protected, metadata: []) } == .authenticationFailed)
        // Cut short: still an authentication failure while a tag's worth remains, malformed below that.
        #expect(failure { _ = try receiver.unprotect(Array(protected.dropLast())) } == .authenticationFailed)
        #expect(failure { _ = try receiver.unprotect(Array(protected.prefix(headerSize + suite.tagByteCount - 1))) }
            == .malformed)
        // None of the forgeries moved the replay window: the genuine frame still opens, once.
        #expect(try receiver.unprotect(protected, metadata: metadata) == plaintext)
        #expect(failure { _ = try receiver.unprotect(protected, metadata: metadata) } == .replayed(8))
    }

    @Test(arguments: SFrameCipherSuite.allCases)
    func aWrongBaseKeyFailsAuthentication(suite: SFrameCipherSuite) throws {
        let sender = try SFrameContext.Sender(suite: suite, keyID: 1, baseKey: baseKeyA)
        let protected = try sender.protect(frame(100))
        let receiver = SFrameContext.Receiver(suite: suite)
        try receiver.addKey(keyID: 1, baseKey: baseKeyB)
        #expect(failure { _ = try receiver.unprotect(protected) } == .authenticationFailed)
    }

    @Test func aReceiverOfAnotherSuiteFailsAuthentication() throws {
        let sender = try SFrameContext.Sender(suite: .aes128CTRHMACSHA256Tag80, keyID: 1, baseKey: baseKeyA)
        let protected = try sender.protect(frame(100))
        for suite in SFrameCipherSuite.allCases where suite != .aes128CTRHMACSHA256Tag80 {
            let receiver = SFrameContext.Receiver(suite: suite)
            try receiver.addKey(keyID: 1, baseKey: baseKeyA)
            #expect(failure { _ = try receiver.unprotect(protected) } == .authenticationFailed, "\(suite)")
        }
    }

    @Test func theDefaultSuiteIsAES128GCM() throws {
        #expect(SFrameCipherSuite.default == .aes128GCMSHA256Tag128)
        #expect(SFrameCipherSuite.default.rawValue == 4 && "\(SFrameCipherSuite.default)" == "AES_128_GCM_SHA256_128")
        let sender = try SFrameContext.Sender(keyID: 0, baseKey: baseKeyA)
        #expect(sender.suite == .aes128GCMSHA256Tag128 && SFrameContext.Receiver().suite == .aes128GCMSHA256Tag128)
    }

    @Test func aReplayedFrameFailsWithReplayed() throws {
        let sender = try SFrameContext.Sender(keyID: 4, baseKey: baseKeyA)
        let receiver = SFrameContext.Receiver()
        try receiver.addKey(keyID: 4, baseKey: baseKeyA)
        let first = try sender.protect(frame(50))
        let second = try sender.protect(frame(60))
        #expect(try receiver.unprotect(first) == frame(50))
        #expect(failure { _ = try receiver.unprotect(first) } == .replayed(0))
        #expect(try receiver.unprotect(second) == frame(60))
        #expect(failure { _ = try receiver.unprotect(second) } == .replayed(1))
        #expect(failure { _ = try receiver.unprotect(first) } == .replayed(0))
    }

    @Test func outOfOrderWithinTheWindowSucceedsAndOlderThanTheWindowFails() throws {
        let sender = try SFrameContext.Sender(keyID: 2, baseKey: baseKeyA)
        let frames = try (0..<300).map { index throws(CryptoError) in try sender.protect(frame(20, seed: index)) }
        // Seeded shuffle: every frame arrives once, in any order, all inside the default 1024 window.
        var random = SplitMix64(seed: 0x0DE_0DE)
        let receiver = SFrameContext.Receiver()
        try receiver.addKey(keyID: 2, baseKey: baseKeyA)
        for index in Array(frames.indices).shuffled(using: &random) {
            #expect(try receiver.unprotect(frames[index]) == frame(20, seed: index))
        }
        for index in [0, 150, 299] {
            #expect(failure { _ = try receiver.unprotect(frames[index]) } == .replayed(UInt64(index)))
        }
        // A 64-wide window: after CTR 199, CTR 135 is too old, CTR 136 is just inside.
        let narrow = SFrameContext.Receiver(replayWindowWidth: 64)
        #expect(narrow.replayWindowWidth == 64)
        try narrow.addKey(keyID: 2, baseKey: baseKeyA)
        #expect(try narrow.unprotect(frames[199]) == frame(20, seed: 199))
        #expect(failure { _ = try narrow.unprotect(frames[135]) } == .replayed(135))
        #expect(try narrow.unprotect(frames[136]) == frame(20, seed: 136))
        #expect(try narrow.unprotect(frames[198]) == frame(20, seed: 198))
    }

    @Test func aReceiverDecryptsTwoLiveKIDsAcrossARotation() throws {
        let sender = try SFrameContext.Sender(keyID: 10, baseKey: baseKeyA)
        let receiver = SFrameContext.Receiver()
        try receiver.addKey(keyID: 10, baseKey: baseKeyA)
        let oldFrames = try (0..<3).map { index throws(CryptoError) in try sender.protect(frame(30, seed: index)) }
        // The new key is announced (added on the receiver) before the sender switches to it.
        try receiver.addKey(keyID: 11, baseKey: baseKeyB)
        #expect(receiver.keyIDs == [10, 11] && receiver.hasKey(11))
        try sender.rotate(toKeyID: 11, baseKey: baseKeyB)
        #expect(sender.keyID == 11 && sender.nextCounter == 0)
        let newFrames = try (0..<3).map { index throws(CryptoError) in try sender.protect(frame(30, seed: 10 + index)) }
        #expect(try headerOf(newFrames[0]) == SFrameHeader(keyID: 11, counter: 0))
        // Frames of both KIDs interleave (old ones still in flight), each with its own replay window.
        #expect(try receiver.unprotect(newFrames[0]) == frame(30, seed: 10))
        #expect(try receiver.unprotect(oldFrames[0]) == frame(30, seed: 0))
        #expect(try receiver.unprotect(newFrames[1]) == frame(30, seed: 11))
        #expect(try receiver.unprotect(oldFrames[1]) == frame(30, seed: 1))
        // The grace period ends: the old KID is gone, and can never come back.
        let removed = receiver.removeKey(keyID: 10)
        #expect(removed)
        #expect(receiver.keyIDs == [11])
        #expect(failure { _ = try receiver.unprotect(oldFrames[2]) } == .unknownKey(10))
        #expect(failure { try receiver.addKey(keyID: 10, baseKey: baseKeyA) } == .invalidKey)
        #expect(try receiver.unprotect(newFrames[2]) == frame(30, seed: 12))
        // Nor does the sender ever go back to a KID it used.
        #expect(failure { try sender.rotate(toKeyID: 10, baseKey: baseKeyB) } == .invalidKey)
        #expect(failure { try sender.rotate(toKeyID: 11, baseKey: baseKeyA) } == .invalidKey)
        #expect(sender.keyID == 11 && sender.nextCounter == 3)
    }

    @Test func anUnknownKIDFailsWithUnknownKey() throws {
        let sender = try SFrameContext.Sender(keyID: 0xABCDEF, baseKey: baseKeyA)
        let receiver = SFrameContext.Receiver()
        #expect(failure { _ = try receiver.unprotect(try sender.protect(frame(5))) } == .unknownKey(0xABCDEF))
        try receiver.addKey(keyID: 1, baseKey: baseKeyA)
        #expect(failure { _ = try receiver.unprotect(try sender.protect(frame(5))) } == .unknownKey(0xABCDEF))
    }

    @Test func keysAreCheckedWhenAddedAndRepeatingAnAnnouncementIsHarmless() throws {
        #expect(failure { _ = try SFrameContext.Sender(keyID: 1, baseKey: Array(baseKeyA.prefix(15))) } == .invalidKey)
        #expect(failure { _ = try SFrameContext.Sender(keyID: 1, baseKey: []) } == .invalidKey)
        let receiver = SFrameContext.Receiver()
        #expect(failure { try receiver.addKey(keyID: 1, baseKey: [1, 2, 3]) } == .invalidKey)
        try receiver.addKey(keyID: 1, baseKey: baseKeyA)
        let sender = try SFrameContext.Sender(keyID: 1, baseKey: baseKeyA)
        let protected = try sender.protect(frame(8))
        #expect(try receiver.unprotect(protected) == frame(8))
        // The same key announced again: nothing changes, the replay window included.
        try receiver.addKey(keyID: 1, baseKey: baseKeyA)
        #expect(failure { _ = try receiver.unprotect(protected) } == .replayed(0))
        // Another key under a live KID is refused.
        #expect(failure { try receiver.addKey(keyID: 1, baseKey: baseKeyB) } == .invalidKey)
        let removedUnknown = receiver.removeKey(keyID: 2)
        #expect(!removedUnknown)
    }

    @Test func counterExhaustionThrowsKeyExhaustedAndNeverWraps() throws {
        let sender = try SFrameContext.Sender(keyID: 5, baseKey: baseKeyA, maximumCounter: 3)
        let receiver = SFrameContext.Receiver()
        try receiver.addKey(keyID: 5, baseKey: baseKeyA)
        for counter in UInt64(0)...3 {
            #expect(!sender.isExhausted)
            let protected = try sender.protect(frame(12))
            #expect(try headerOf(protected).counter == counter)
            #expect(try receiver.unprotect(protected) == frame(12))
        }
        #expect(sender.isExhausted && sender.nextCounter == nil)
        var output: [UInt8] = [0xAA]
        for _ in 0..<3 {
            #expect(failure { try sender.protect(frame(12)[...], metadata: [], appendingTo: &output) } == .keyExhausted)
        }
        #expect(output == [0xAA])
        // A new KID starts again at 0.
        try receiver.addKey(keyID: 6, baseKey: baseKeyB)
        try sender.rotate(toKeyID: 6, baseKey: baseKeyB)
        #expect(try receiver.unprotect(try sender.protect(frame(12))) == frame(12))
        #expect(sender.nextCounter == 1)
    }

    @Test func theDefaultLimitIsTwoToThe64MinusOneAndTheLastCounterIsUsable() throws {
        let defaultSender = try SFrameContext.Sender(keyID: 1, baseKey: baseKeyA)
        #expect(defaultSender.maximumCounter == UInt64.max)
        let sender = try SFrameContext.Sender(
            suite: .default, keyID: 1, baseKey: baseKeyA, maximumCounter: .max, firstCounter: UInt64.max - 1)
        let receiver = SFrameContext.Receiver()
        try receiver.addKey(keyID: 1, baseKey: baseKeyA)
        let penultimate = try sender.protect(frame(3))
        let last = try sender.protect(frame(4))
        #expect(try headerOf(last) == SFrameHeader(keyID: 1, counter: .max))
        #expect(failure { _ = try sender.protect(frame(5)) } == .keyExhausted)
        #expect(try receiver.unprotect(last) == frame(4))
        #expect(try receiver.unprotect(penultimate) == frame(3))
        #expect(failure { _ = try receiver.unprotect(last) } == .replayed(.max))
    }

    @Test func protectAppendsAfterWhatTheBufferHolds() throws {
        let sender = try SFrameContext.Sender(keyID: 1, baseKey: baseKeyA)
        let receiver = SFrameContext.Receiver()
        try receiver.addKey(keyID: 1, baseKey: baseKeyA)
        var output: [UInt8] = [1, 2, 3]
        try sender.protect(frame(40)[...], metadata: [9], appendingTo: &output)
        #expect(Array(output.prefix(3)) == [1, 2, 3])
        #expect(try receiver.unprotect(output[3...], metadata: [9]) == frame(40))
    }

    @Test func randomAndMutatedCiphertextsNeverTrapAndNeverOpenAsSomethingElse() throws {
        var random = SplitMix64(seed: 0x5F_2A3E_0001)
        for suite in SFrameCipherSuite.allCases {
            let sender = try SFrameContext.Sender(suite: suite, keyID: 9, baseKey: baseKeyA)
            // A receiver is a class (one owner, never copied): each round gets a fresh one, so a frame
            // opened in one round is not a replay in the next.
            func freshReceiver() throws(CryptoError) -> SFrameContext.Receiver {
                let receiver = SFrameContext.Receiver(suite: suite)
                try receiver.addKey(keyID: 9, baseKey: baseKeyA)
                try receiver.addKey(keyID: 1, baseKey: baseKeyB)
                return receiver
            }
            let originals = try (0..<16).map { index throws(CryptoError) in
                let plaintext = frame(index * 5, seed: index)
                return (plaintext: plaintext, protected: try sender.protect(plaintext, metadata: [UInt8(index)]))
            }
            var opened = 0
            for round in 0..<1_500 {
                let original = originals[round % originals.count]
                let input: [UInt8]
                if round % 3 == 0 {
                    input = (0..<Int.random(in: 0...48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                } else {
                    input = random.mutated(original.protected, changes: 1...4)
                }
                let fresh = try freshReceiver()
                let metadata = [UInt8(round % originals.count)]
                guard let plaintext = try? fresh.unprotect(input, metadata: metadata) else { continue }
                // Only an unchanged frame (with its own metadata) can open, and it opens to its plaintext.
                #expect(input == original.protected && plaintext == original.plaintext, "\(suite) input \(input)")
                opened += 1
            }
            #expect(opened < 50)
        }
    }
}

/// The header at the front of a protected frame.
private func headerOf(_ protected: [UInt8]) throws(CryptoError) -> SFrameHeader {
    var reader = ByteReader(protected)
    return try SFrameHeader(reading: &reader)
}

/// Senders and receivers are classes (one owner, never copied): every reference shares one state.
extension SFrameContextTests {
    @Test(arguments: SFrameCipherSuite.allCases)
    func twoReferencesToOneSenderNeverProduceTheSameCounter(suite: SFrameCipherSuite) throws {
        let sender = try SFrameContext.Sender(suite: suite, keyID: 5, baseKey: baseKeyA)
        let alias = sender  // what a copied value used to be: now the same sender
        var counters: [UInt64] = []
        for index in 0..<20 {
            let protected = try (index % 2 == 0 ? sender : alias).protect(frame(12, seed: index))
            counters.append(try headerOf(protected).counter)
        }
        #expect(counters == Array(0..<20))
        #expect(sender.nextCounter == 20 && alias.nextCounter == 20)
        // A rotation through one reference is seen (and its KID refused again) through the other.
        try alias.rotate(toKeyID: 6, baseKey: baseKeyB)
        #expect(sender.keyID == 6 && sender.nextCounter == 0)
        #expect(failure { try sender.rotate(toKeyID: 5, baseKey: baseKeyA) } == .invalidKey)
    }

    @Test(arguments: SFrameCipherSuite.allCases)
    func aFrameOpenedThroughOneReceiverReferenceIsAReplayThroughAnother(suite: SFrameCipherSuite) throws {
        let sender = try SFrameContext.Sender(suite: suite, keyID: 5, baseKey: baseKeyA)
        let receiver = SFrameContext.Receiver(suite: suite)
        try receiver.addKey(keyID: 5, baseKey: baseKeyA)
        let alias = receiver
        let protected = try sender.protect(frame(30))
        #expect(try receiver.unprotect(protected) == frame(30))
        #expect(failure { _ = try alias.unprotect(protected) } == .replayed(0))
        // A removal through one reference holds for the other.
        #expect(alias.removeKey(keyID: 5))
        #expect(!receiver.hasKey(5))
        #expect(failure { try receiver.addKey(keyID: 5, baseKey: baseKeyA) } == .invalidKey)
    }
}
