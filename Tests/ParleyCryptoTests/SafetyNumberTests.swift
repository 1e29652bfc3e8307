import Foundation
import ParleyCrypto
import ParleyWire
import Testing

// Test vectors of Protocols/peer/verification.md §5, checked there against an independent script.
private enum SafetyVectors {
    /// RFC 7748 §6.1 Alice and Bob.
    static let alice = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
    static let bob = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"
    static let aliceFingerprint = "075299060470638846727192109166"
    static let bobFingerprint = "698370081824749797748181043688"
    static let aliceAndBob = "07529 90604 70638 84672 71921 09166 69837 00818 24749 79774 81810 43688"
    /// The static keys of the Noise_IK_25519_AESGCM_SHA256 vector in noise-ik-xx.json (initiator, responder).
    static let noiseInitiator = "a8OCKiqn9OaYHWU4aSs83z5t-e6m7SaetB2TwidXt1o"
    static let noiseResponder = "MeAwP9ZBjS-MDni5HyLoyu0Pvkhlbc9HZ-SDT3Abj2I"
    static let noisePair = "12613 60689 67809 79735 98108 77515 41778 06694 45119 79098 11296 81290"
}

private func key(_ text: String) throws -> IdentityPublicKey { try IdentityPublicKey(base64URL: text) }

@Suite struct SafetyNumberTests {
    @Test func specifiedVectorsReproduce() throws {
        let alice = try key(SafetyVectors.alice)
        let bob = try key(SafetyVectors.bob)
        #expect(SafetyNumber.fingerprint(of: alice) == SafetyVectors.aliceFingerprint)
        #expect(SafetyNumber.fingerprint(of: bob) == SafetyVectors.bobFingerprint)
        #expect(SafetyNumber(alice, bob).displayString == SafetyVectors.aliceAndBob)
        #expect(SafetyNumber(bob, alice).description == SafetyVectors.aliceAndBob)
        let noise = SafetyNumber(try key(SafetyVectors.noiseInitiator), try key(SafetyVectors.noiseResponder))
        #expect(noise.displayString == SafetyVectors.noisePair)
    }

    @Test func isTheSameWhicheverSideComputesIt() throws {
        var random = SplitMix64(seed: 0x5AFE)
        for _ in 0..<6 {
            let first = try randomKey(using: &random)
            let second = try randomKey(using: &random)
            #expect(SafetyNumber(first, second) == SafetyNumber(second, first))
        }
    }

    @Test func isStableAcrossComputations() throws {
        let alice = try key(SafetyVectors.alice)
        let bob = try key(SafetyVectors.bob)
        let first = SafetyNumber(alice, bob)
        #expect(SafetyNumber(try key(SafetyVectors.alice), try key(SafetyVectors.bob)) == first)
        #expect(SafetyNumber(alice, bob).digits == first.digits)
    }

    @Test func changesWhenEitherKeyChanges() throws {
        let alice = try key(SafetyVectors.alice)
        let bob = try key(SafetyVectors.bob)
        let mallory = IdentityKeyPair().publicKey
        let genuine = SafetyNumber(alice, bob)
        #expect(SafetyNumber(alice, mallory) != genuine, "Bob's key replaced")
        #expect(SafetyNumber(mallory, bob) != genuine, "Alice's key replaced")
        // A man in the middle shows each side a number with its own key in it: neither matches the genuine one.
        #expect(SafetyNumber(alice, mallory) != SafetyNumber(mallory, bob))
        // One bit of difference in a key changes its whole half.
        var flipped = alice.rawRepresentation
        flipped[0] ^= 1
        let near = try IdentityPublicKey(rawRepresentation: flipped)
        #expect(SafetyNumber.fingerprint(of: near) != SafetyNumber.fingerprint(of: alice))
        #expect(SafetyNumber(near, bob) != genuine)
    }

    @Test func isTwelveGroupsOfFiveDigits() throws {
        var random = SplitMix64(seed: 0xD161_7)
        for _ in 0..<4 {
            let number = SafetyNumber(try randomKey(using: &random), try randomKey(using: &random))
            #expect(number.digits.count == 60)
            #expect(number.digits.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            #expect(number.groups.count == 12)
            #expect(number.groups.allSatisfy { $0.count == 5 })
            #expect(number.groups.joined() == number.digits)
            #expect(number.displayString == number.groups.joined(separator: " "))
            #expect(number.displayString.count == 71)
        }
    }

    @Test func aKeyWithItselfHasTwoEqualHalves() throws {
        let alice = try key(SafetyVectors.alice)
        #expect(SafetyNumber(alice, alice).digits == SafetyVectors.aliceFingerprint + SafetyVectors.aliceFingerprint)
    }

    @Test func theSpecificationShowsTheseVectors() throws {
        let spec = try verificationSpecification()
        for text in [
            SafetyVectors.alice, SafetyVectors.bob, SafetyVectors.aliceFingerprint, SafetyVectors.bobFingerprint,
            SafetyVectors.aliceAndBob, SafetyVectors.noiseInitiator, SafetyVectors.noiseResponder, SafetyVectors.noisePair,
        ] {
            #expect(spec.contains(text), "verification.md lacks \(text)")
        }
        #expect(spec.contains("\(SafetyNumber.iterations)") && spec.contains("\"\(SafetyNumber.label)\""))
    }

    private func randomKey(using random: inout SplitMix64) throws -> IdentityPublicKey {
        let privateKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        return try IdentityKeyPair(privateKeyRawRepresentation: privateKey).publicKey
    }
}

/// Protocols/peer/verification.md, found from this file's path.
func verificationSpecification() throws -> String {
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try String(contentsOf: packageRoot.appendingPathComponent("Protocols/peer/verification.md"), encoding: .utf8)
}
