import Foundation
import ParleyCrypto
import ParleyWire
import Testing

private func hexBytes(_ text: String) -> [UInt8] {
    [UInt8](hexString: text)!
}

/// Test vectors of Protocols/peer/verification.md §5: handshake hash → SAS bytes, words, emoji.
private let sasVectors: [(hash: String, bytes: [UInt8], words: String, emoji: String)] = [
    (String(repeating: "00", count: 32), [0x45, 0xD2, 0x43, 0x0D], "sun gem earth monkey", "🌞 💎 🌍 🐵"),
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", [0x1F, 0x9B, 0x53, 0x4E],
     "turtle tower lemon umbrella", "🐢 🗼 🍋 ☔"),
    // The handshake hash of the Noise_IK_25519_AESGCM_SHA256 vector in noise-ik-xx.json.
    ("669c8640d9e42a3cda2f232f78597ceefb01daa6e3df81181ccce6fc6b5026bf", [0xEF, 0x99, 0xCC, 0x7F],
     "bowling office party wine", "🎳 🏢 🎉 🍷"),
]

/// Levenshtein distance of two ASCII words.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8)
    let b = Array(b.utf8)
    var row = Array(0...b.count)
    for i in 1...a.count {
        var previous = row[0]
        row[0] = i
        for j in 1...b.count {
            let substitution = previous + (a[i - 1] == b[j - 1] ? 0 : 1)
            previous = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, substitution)
        }
    }
    return row[b.count]
}

@Suite struct ShortAuthenticationStringTests {
    @Test func specifiedVectorsReproduce() throws {
        for vector in sasVectors {
            let sas = try ShortAuthenticationString(handshakeHash: hexBytes(vector.hash))
            #expect(sas.indices == vector.bytes, "\(vector.hash)")
            #expect(sas.wordString == vector.words)
            #expect(sas.emojiString == vector.emoji)
            #expect(sas.words.count == 4 && sas.emoji.count == 4)
            #expect(sas.description == vector.words)
        }
    }

    @Test func bothEndsOfOneHandshakeSeeTheSameString() throws {
        var random = SplitMix64(seed: 0x5A5)
        for _ in 0..<100 {
            let hash = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
            let initiator = try ShortAuthenticationString(handshakeHash: hash)
            let responder = try ShortAuthenticationString(handshakeHash: Data(hash))
            #expect(initiator == responder)
            #expect(initiator.wordString == responder.wordString && initiator.emojiString == responder.emojiString)
        }
    }

    /// A man in the middle runs two handshakes with two different hashes; the strings differ unless 32
    /// bits happen to agree. Over 20 000 seeded random hashes (2·10^8 pairs, 0.05 colliding pairs
    /// expected) every string differs, a one-bit change in a hash always changes it, and every word is used.
    @Test func differentHandshakeHashesGiveDifferentStrings() throws {
        var random = SplitMix64(seed: 0xC0_111DE)
        var seen = Set<[UInt8]>()
        var wordUses = [Int](repeating: 0, count: 256)
        for _ in 0..<20_000 {
            var hash = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
            let sas = try ShortAuthenticationString(handshakeHash: hash)
            seen.insert(sas.indices)
            for index in sas.indices { wordUses[Int(index)] += 1 }
            hash[Int.random(in: 0..<32, using: &random)] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            #expect(try ShortAuthenticationString(handshakeHash: hash) != sas)
        }
        #expect(seen.count == 20_000)
        // 80 000 draws over 256 values: about 312 each; a bias in the derivation would show here.
        #expect(wordUses.min()! > 200 && wordUses.max()! < 430, "\(wordUses.min()!)–\(wordUses.max()!)")
    }

    @Test func hashesOfTheWrongLengthAreRefused() {
        for count in [0, 16, 31, 33, 64] {
            #expect(throws: CryptoError.malformed(.lengthMismatch(field: "handshake hash", declared: 32, actual: count))) {
                try ShortAuthenticationString(handshakeHash: [UInt8](repeating: 7, count: count))
            }
        }
    }
}

@Suite struct ShortAuthenticationStringListTests {
    @Test func wordsAre256DistinctShortLowercaseASCIIWords() {
        let words = ShortAuthenticationString.wordList
        #expect(words.count == 256)
        #expect(Set(words).count == 256)
        for word in words {
            #expect(word.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }, "\(word)")
            #expect((3...8).contains(word.utf8.count), "\(word)")
        }
    }

    @Test func wordsAreAtLeastTwoEditsApartAndHaveDistinctFourLetterPrefixes() {
        let words = ShortAuthenticationString.wordList
        for (i, first) in words.enumerated() {
            for second in words[(i + 1)...] {
                #expect(editDistance(first, second) >= 2, "\(first) / \(second)")
            }
        }
        #expect(Set(words.map { $0.prefix(4) }).count == 256)
    }

    @Test func emojiAre256DistinctSingleScalarsWithEmojiPresentationFromUnicode9() {
        let emoji = ShortAuthenticationString.emojiList
        #expect(emoji.count == 256)
        #expect(Set(emoji).count == 256)
        for symbol in emoji {
            let scalars = Array(symbol.unicodeScalars)
            #expect(scalars.count == 1, "\(symbol): one scalar, no variation selector or joiner")
            guard let scalar = scalars.first else { continue }
            #expect(scalar.properties.isEmojiPresentation, "\(symbol) U+\(String(scalar.value, radix: 16))")
            #expect(!scalar.properties.isEmojiModifierBase, "\(symbol): no skin tones")
            let age = scalar.properties.age
            #expect(age != nil && age!.major <= 9, "\(symbol) is from Unicode \(String(describing: age))")
        }
    }

    /// verification.md §4 publishes both lists in one table; it must be exactly the code's lists.
    @Test func theSpecificationTableIsExactlyTheCodeLists() throws {
        var rows: [(index: Int, word: String, emoji: String, codePoint: String)] = []
        for line in try verificationSpecification().split(separator: "\n") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            // | index | hex | word | emoji | code point | Unicode name |
            guard cells.count == 8, let index = Int(cells[1]), cells[2].hasPrefix("0x") else { continue }
            #expect(cells[2] == String(format: "0x%02X", index), "row \(index)")
            rows.append((index, cells[3], cells[4], cells[5]))
        }
        #expect(rows.map(\.index) == Array(0..<256))
        #expect(rows.map(\.word) == ShortAuthenticationString.wordList)
        #expect(rows.map(\.emoji) == ShortAuthenticationString.emojiList)
        for row in rows {
            let scalar = row.emoji.unicodeScalars.first.map { String(format: "U+%04X", $0.value) }
            #expect(scalar == row.codePoint, "row \(row.index)")
        }
    }

    @Test func theSpecificationShowsTheseVectors() throws {
        let spec = try verificationSpecification()
        for vector in sasVectors {
            #expect(spec.contains(vector.hash), "\(vector.hash)")
            #expect(spec.contains(vector.words) && spec.contains(vector.emoji), "\(vector.words)")
            #expect(spec.contains(vector.bytes.map { String(format: "%02x", $0) }.joined()), "\(vector.bytes)")
        }
        #expect(spec.contains("\"\(ShortAuthenticationString.label)\""))
    }
}
