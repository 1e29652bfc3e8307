import Crypto
import ParleyCrypto
import ParleyWire
import Testing

// RFC 7748 §6.1 public keys, and their base64url forms (Protocols/peer/identity.md §3).
private let alice = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
private let bob = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"

private func hexBytes(_ text: String) -> [UInt8] {
    [UInt8](hexString: text)!
}

/// Which kind of `CryptoError` `body` throws: "malformed", "invalidKey", another kind, or "none".
private func errorKind(_ body: () throws -> Any?) -> String {
    do {
        _ = try body()
        return "none"
    } catch let error as ParleyCrypto.CryptoError {
        switch error {
        case .malformed: return "malformed"
        case .invalidKey: return "invalidKey"
        default: return "other: \(error)"
        }
    } catch {
        return "other: \(error)"
    }
}

private func randomBytes(_ count: Int, using random: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
}

@Suite struct IdentityPublicKeyTests {
    @Test func rfc7748KeysHaveTheSpecifiedBase64URLForms() throws {
        let alicePair = try IdentityKeyPair(
            privateKeyRawRepresentation: hexBytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        #expect(alicePair.publicKey.rawRepresentation == hexBytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(alicePair.publicKey.base64URL == alice)
        #expect(alicePair.publicKey.description == alice)
        let bobKey = try IdentityPublicKey(rawRepresentation: hexBytes("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        #expect(bobKey.base64URL == bob)
        #expect(try IdentityPublicKey(base64URL: alice) == alicePair.publicKey)
        #expect(try IdentityPublicKey(base64URL: bob) == bobKey)
    }

    @Test func generatedKeysRoundTripThroughBase64URL() throws {
        for _ in 0..<200 {
            let key = IdentityKeyPair().publicKey
            #expect(key.base64URL.utf8.count == 43)
            #expect(try IdentityPublicKey(base64URL: key.base64URL) == key)
            #expect(try IdentityPublicKey(rawRepresentation: key.rawRepresentation) == key)
        }
    }

    @Test func base64URLDecodingIsStrict() {
        var topBitSet = hexBytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        topBitSet[31] |= 0x80
        let cases: [(input: String, kind: String, why: String)] = [
            ("", "invalidKey", "empty"),
            (String(repeating: "B", count: 40), "invalidKey", "40 characters: 30 bytes"),
            (alice + "AAAA", "invalidKey", "47 characters: 35 bytes"),
            (alice + "A", "invalidKey", "44 characters: 33 bytes"),
            (alice + "AA", "malformed", "45 characters: not a possible unpadded length"),
            (alice + "=", "malformed", "padding"),
            (String(alice.dropLast()) + "p", "malformed", "non-canonical last character (unused bits set)"),
            (alice.replacingOccurrences(of: "_", with: "/"), "malformed", "standard base64 alphabet"),
            (alice.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "+"), "malformed", "'+'"),
            (" " + alice, "malformed", "leading space"),
            (alice + "\n", "malformed", "trailing newline"),
            (String(alice.dropLast()) + "é", "malformed", "non-ASCII"),
            ("parley:" + alice, "malformed", "a URI is not a bare key"),
            (String(repeating: "A", count: 43), "invalidKey", "all-zero key: low order"),
            ("AQ" + String(repeating: "A", count: 41), "invalidKey", "u = 1: low order"),
            ("7P" + String(repeating: "_", count: 39) + "38", "invalidKey", "u = 2^255 - 20 (p - 1): low order"),
            ("7P" + String(repeating: "_", count: 39) + "3_", "malformed", "non-canonical last character"),
            ("7f" + String(repeating: "_", count: 39) + "38", "invalidKey", "u = p = 2^255 - 19: non-canonical"),
            ("7P" + String(repeating: "_", count: 40) + "38", "invalidKey", "44 characters: 33 bytes"),
            (IdentityPublicKeyTests.base64URL(topBitSet), "invalidKey", "top bit set"),
        ]
        for test in cases {
            #expect(errorKind { try IdentityPublicKey(base64URL: test.input) } == test.kind, "\(test.why): \(test.input)")
        }
    }

    @Test func rawKeysOfTheWrongSizeOrNoRealKeyPairAreRefused() {
        for count in [0, 1, 31, 33, 64] {
            #expect(errorKind { try IdentityPublicKey(rawRepresentation: [UInt8](repeating: 9, count: count)) } == "invalidKey")
        }
        let p = [0xED] + [UInt8](repeating: 0xFF, count: 30) + [0x7F]
        for value in 0..<19 {
            var above = p
            above[0] += UInt8(value)
            #expect(errorKind { try IdentityPublicKey(rawRepresentation: above) } == "invalidKey", "p + \(value)")
        }
        var belowP = p
        belowP[0] = 0xEB  // p − 2: canonical, large order
        #expect(errorKind { try IdentityPublicKey(rawRepresentation: belowP) } == "none")
        #expect(errorKind { try IdentityPublicKey(rawRepresentation: [9] + [UInt8](repeating: 0, count: 31)) } == "none", "the base point")
    }

    /// The refused points really are low order: X25519 with any private key gives zero (swift-crypto
    /// refuses the result), while an ordinary key gives a shared secret.
    @Test func refusedLowOrderPointsZeroEverySharedSecret() throws {
        let lowOrder = [
            [UInt8](repeating: 0, count: 32),
            [1] + [UInt8](repeating: 0, count: 31),
            hexBytes("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
            hexBytes("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
            [0xEC] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
            [0xED] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
            [0xEE] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
        ]
        for point in lowOrder {
            #expect(errorKind { try IdentityPublicKey(rawRepresentation: point) } == "invalidKey")
            let peer = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: point)
            for _ in 0..<3 {
                let secret = try? Curve25519.KeyAgreement.PrivateKey().sharedSecretFromKeyAgreement(with: peer)
                let bytes = secret.map { $0.withUnsafeBytes { Array($0) } }
                #expect(bytes == nil || bytes == [UInt8](repeating: 0, count: 32), "\(point)")
            }
        }
        let ordinary = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: IdentityPublicKey(base64URL: bob).rawRepresentation)
        #expect((try? Curve25519.KeyAgreement.PrivateKey().sharedSecretFromKeyAgreement(with: ordinary)) != nil)
    }

    @Test func privateKeysOfTheWrongSizeAreRefused() {
        for count in [0, 31, 33] {
            #expect(errorKind { try IdentityKeyPair(privateKeyRawRepresentation: [UInt8](repeating: 1, count: count)) } == "invalidKey")
        }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var bits = 0
        var value = 0
        var text = ""
        for byte in bytes {
            value = value << 8 | Int(byte)
            bits += 8
            while bits >= 6 {
                text.append(alphabet[(value >> (bits - 6)) & 63])
                bits -= 6
            }
        }
        if bits > 0 { text.append(alphabet[(value << (6 - bits)) & 63]) }
        return text
    }
}

@Suite struct IdentityURITests {
    @Test func canonicalURIsRoundTrip() throws {
        let cases: [(text: String, address: IdentityURI.Address?)] = [
            ("parley:\(alice)", nil),
            ("parley:\(alice)@192.0.2.1:7000", try .init(host: .ipv4([192, 0, 2, 1]), port: 7000)),
            ("parley:\(alice)@0.0.0.0:1", try .init(host: .ipv4([0, 0, 0, 0]), port: 1)),
            ("parley:\(alice)@255.255.255.255:65535", try .init(host: .ipv4([255, 255, 255, 255]), port: 65535)),
            ("parley:\(alice)@[2001:db8::1]:443", try .init(host: .ipv6(hexBytes("20010db8000000000000000000000001")), port: 443)),
            ("parley:\(alice)@[::1]:7000", try .init(host: .ipv6([UInt8](repeating: 0, count: 15) + [1]), port: 7000)),
            ("parley:\(alice)@[::]:7000", try .init(host: .ipv6([UInt8](repeating: 0, count: 16)), port: 7000)),
            ("parley:\(alice)@[2001:db8:0:1:1:1:1:1]:9", try .init(host: .ipv6(hexBytes("20010db8000000010001000100010001")), port: 9)),
            ("parley:\(alice)@[2001:db8::1:0:0:1]:9", try .init(host: .ipv6(hexBytes("20010db8000000000001000000000001")), port: 9)),
            ("parley:\(alice)@[fe80::]:9", try .init(host: .ipv6(hexBytes("fe800000000000000000000000000000")), port: 9)),
            ("parley:\(alice)@[::ffff:192.0.2.1]:9", try .init(host: .ipv6(hexBytes("00000000000000000000ffffc0000201")), port: 9)),
            ("parley:\(alice)@example.org:7000", try .init(host: .name("example.org"), port: 7000)),
            ("parley:\(alice)@localhost:7000", try .init(host: .name("localhost"), port: 7000)),
            ("parley:\(alice)@xn--bcher-kva.example:5", try .init(host: .name("xn--bcher-kva.example"), port: 5)),
            ("parley:\(alice)@1.2.3.4a:5", try .init(host: .name("1.2.3.4a"), port: 5)),
            ("parley:\(alice)@a-b.c0:5", try .init(host: .name("a-b.c0"), port: 5)),
        ]
        let key = try IdentityPublicKey(base64URL: alice)
        for test in cases {
            let uri = try IdentityURI(parsing: test.text)
            #expect(uri == IdentityURI(publicKey: key, address: test.address), "\(test.text)")
            #expect(uri.description == test.text)
            #expect(try IdentityURI(parsing: uri.description) == uri)
            if let address = test.address {
                #expect(try IdentityURI.Address(parsing: address.description) == address)
            }
        }
    }

    @Test func otherSpellingsParseToTheCanonicalForm() throws {
        let cases: [(text: String, canonical: String)] = [
            ("PARLEY:\(alice)", "parley:\(alice)"),
            ("Parley:\(alice)@Example.ORG:7000", "parley:\(alice)@example.org:7000"),
            ("parley:\(alice)@[2001:DB8:0:0:0:0:0:1]:1", "parley:\(alice)@[2001:db8::1]:1"),
            ("parley:\(alice)@[2001:0db8::0001]:1", "parley:\(alice)@[2001:db8::1]:1"),
            ("parley:\(alice)@[0:0:0:0:0:0:0:1]:1", "parley:\(alice)@[::1]:1"),
            ("parley:\(alice)@[2001:db8:0:0:1:0:0:1]:1", "parley:\(alice)@[2001:db8::1:0:0:1]:1"),
            ("parley:\(alice)@[2001:db8:0:0:1:0:0:0]:1", "parley:\(alice)@[2001:db8:0:0:1::]:1"),
            ("parley:\(alice)@[1:2:3:4:5:6:7::]:1", "parley:\(alice)@[1:2:3:4:5:6:7:0]:1"),
            ("parley:\(alice)@[::2:3:4:5:6:7:8]:1", "parley:\(alice)@[0:2:3:4:5:6:7:8]:1"),
            ("parley:\(alice)@[::ffff:c000:0201]:1", "parley:\(alice)@[::ffff:192.0.2.1]:1"),
            ("parley:\(alice)@[::192.0.2.1]:1", "parley:\(alice)@[::c000:201]:1"),
            ("parley:\(alice)@[1:2:3:4:5:6:1.2.3.4]:1", "parley:\(alice)@[1:2:3:4:5:6:102:304]:1"),
        ]
        for test in cases {
            let uri = try IdentityURI(parsing: test.text)
            #expect(uri.description == test.canonical, "\(test.text)")
            #expect(try IdentityURI(parsing: test.canonical) == uri)
        }
    }

    @Test func badURIsAreRefused() {
        let label63 = String(repeating: "a", count: 63)
        let cases: [(text: String, kind: String, why: String)] = [
            ("", "malformed", "empty"),
            ("parley", "malformed", "no colon"),
            ("parley:", "invalidKey", "no key"),
            ("parly:\(alice)", "malformed", "wrong scheme"),
            ("parley://\(alice)", "malformed", "authority form"),
            (" parley:\(alice)", "malformed", "leading space"),
            ("parley:\(alice) ", "malformed", "trailing space"),
            ("parley:\(alice)/", "malformed", "path"),
            ("parley:\(alice)?x=1", "malformed", "query"),
            ("parley:\(alice)#x", "malformed", "fragment"),
            ("parley:\(alice)=", "malformed", "padded key"),
            ("parley:\(String(repeating: "B", count: 40))", "invalidKey", "short key"),
            ("parley:\(alice)AAAA@1.2.3.4:5", "invalidKey", "long key"),
            ("parley:\(alice)@", "malformed", "empty address"),
            ("parley:\(alice)@host", "malformed", "no port"),
            ("parley:\(alice)@host:", "malformed", "empty port"),
            ("parley:\(alice)@:7000", "malformed", "empty host"),
            ("parley:\(alice)@host:0", "malformed", "port 0"),
            ("parley:\(alice)@host:65536", "malformed", "port too large"),
            ("parley:\(alice)@host:100000", "malformed", "port too long"),
            ("parley:\(alice)@host:070", "malformed", "port with a leading zero"),
            ("parley:\(alice)@host:+70", "malformed", "signed port"),
            ("parley:\(alice)@host:7a", "malformed", "port not decimal"),
            ("parley:\(alice)@host:7000:1", "malformed", "two ports"),
            ("parley:\(alice)@2001:db8::1:7000", "malformed", "unbracketed IPv6"),
            ("parley:\(alice)@::1:7000", "malformed", "unbracketed IPv6"),
            ("parley:\(alice)@[2001:db8::1]", "malformed", "IPv6 without a port"),
            ("parley:\(alice)@[2001:db8::1]7000", "malformed", "no colon after the bracket"),
            ("parley:\(alice)@[2001:db8::1:7000", "malformed", "no closing bracket"),
            ("parley:\(alice)@[fe80::1%eth0]:7000", "malformed", "zone identifier"),
            ("parley:\(alice)@[fe80::1%25eth0]:7000", "malformed", "encoded zone identifier"),
            ("parley:\(alice)@[1::2::3]:7", "malformed", "two ::"),
            ("parley:\(alice)@[12345::]:7", "malformed", "5-digit group"),
            ("parley:\(alice)@[1:2:3:4:5:6:7:8:9]:7", "malformed", "9 groups"),
            ("parley:\(alice)@[1:2:3:4:5:6:7]:7", "malformed", "7 groups without ::"),
            ("parley:\(alice)@[1:2:3:4::5:6:7:8]:7", "malformed", ":: with 8 groups"),
            ("parley:\(alice)@[:1:2:3:4:5:6:7]:7", "malformed", "leading single colon"),
            ("parley:\(alice)@[1:2:3:4:5:6:7:]:7", "malformed", "trailing single colon"),
            ("parley:\(alice)@[:::]:7", "malformed", "three colons"),
            ("parley:\(alice)@[::g]:7", "malformed", "not hex"),
            ("parley:\(alice)@[]:7", "malformed", "empty brackets"),
            ("parley:\(alice)@[v1.x]:7", "malformed", "IPvFuture"),
            ("parley:\(alice)@[1.2.3.4]:7", "malformed", "IPv4 in brackets"),
            ("parley:\(alice)@[::1.2.3]:7", "malformed", "short embedded IPv4"),
            ("parley:\(alice)@[::1.2.3.4:5]:7", "malformed", "embedded IPv4 not last"),
            ("parley:\(alice)@[1.2.3.4::]:7", "malformed", "embedded IPv4 before ::"),
            ("parley:\(alice)@1.2.3:7", "malformed", "3 IPv4 numbers"),
            ("parley:\(alice)@1.2.3.4.5:7", "malformed", "5 IPv4 numbers"),
            ("parley:\(alice)@256.1.1.1:7", "malformed", "IPv4 number above 255"),
            ("parley:\(alice)@01.2.3.4:7", "malformed", "IPv4 leading zero"),
            ("parley:\(alice)@1..3.4:7", "malformed", "empty IPv4 number"),
            ("parley:\(alice)@1.2.3.4.:7", "malformed", "trailing dot"),
            ("parley:\(alice)@1234:7", "malformed", "bare number"),
            ("parley:\(alice)@-a.org:7", "malformed", "label starts with a hyphen"),
            ("parley:\(alice)@a-.org:7", "malformed", "label ends with a hyphen"),
            ("parley:\(alice)@a_b.org:7", "malformed", "underscore"),
            ("parley:\(alice)@a..org:7", "malformed", "empty label"),
            ("parley:\(alice)@.org:7", "malformed", "leading dot"),
            ("parley:\(alice)@a.org.:7", "malformed", "trailing dot"),
            ("parley:\(alice)@a\(label63).org:7", "malformed", "64-character label"),
            ("parley:\(alice)@\([String](repeating: label63, count: 4).joined(separator: ".")):7", "malformed", "255 characters"),
            ("parley:\(alice)@example.123:7", "malformed", "numeric last label"),
            ("parley:\(alice)@exa mple:7", "malformed", "space"),
            ("parley:\(alice)@ex%41mple:7", "malformed", "percent-encoding"),
            ("parley:\(alice)@müller.de:7", "malformed", "non-ASCII name"),
            ("parley:\(alice)@a@b:7", "malformed", "second @"),
            ("parley:\(alice)@user@host:7", "malformed", "user info"),
            ("parley:\(alice)@host:7 ", "malformed", "trailing space after the port"),
        ]
        for test in cases {
            #expect(errorKind { try IdentityURI(parsing: test.text) } == test.kind, "\(test.why): \(test.text)")
        }
    }

    @Test func addressesAreValidatedWhenBuilt() throws {
        #expect(errorKind { try IdentityURI.Address(host: .ipv4([1, 2, 3]), port: 1) } == "malformed")
        #expect(errorKind { try IdentityURI.Address(host: .ipv6([UInt8](repeating: 0, count: 4)), port: 1) } == "malformed")
        #expect(errorKind { try IdentityURI.Address(host: .ipv4([1, 2, 3, 4]), port: 0) } == "malformed")
        #expect(errorKind { try IdentityURI.Address(host: .name("bad_name"), port: 1) } == "malformed")
        #expect(errorKind { try IdentityURI.Address(host: .name("10.0.0.1"), port: 1) } == "malformed", "a number is not a name")
        #expect(try IdentityURI.Address(host: .name("Example.ORG"), port: 1).host == .name("example.org"))
        #expect(try IdentityURI.Address(parsing: "[2001:DB8::1]:7000").description == "[2001:db8::1]:7000")
        #expect(try IdentityURI.Address(parsing: "192.0.2.1:7000").host == .ipv4([192, 0, 2, 1]))
    }

    @Test func randomValuesSerializeToTextThatParsesBack() throws {
        var random = SplitMix64(seed: 0x1D_E171)
        var checked = 0
        while checked < 2_000 {
            var keyBytes = randomBytes(32, using: &random)
            keyBytes[31] &= 0x7F
            guard let key = try? IdentityPublicKey(rawRepresentation: keyBytes) else { continue }
            let port = UInt16.random(in: 1...UInt16.max, using: &random)
            let address: IdentityURI.Address?
            switch Int.random(in: 0..<4, using: &random) {
            case 0:
                address = nil
            case 1:
                address = try .init(host: .ipv4(randomBytes(4, using: &random)), port: port)
            case 2:
                // Random groups, many of them zero, to exercise "::" placement.
                var bytes = randomBytes(16, using: &random)
                for group in 0..<8 where Bool.random(using: &random) {
                    bytes[2 * group] = 0
                    bytes[2 * group + 1] = 0
                }
                address = try .init(host: .ipv6(bytes), port: port)
            default:
                let labels = (0..<Int.random(in: 1...4, using: &random)).map { _ in
                    String((0..<Int.random(in: 1...12, using: &random)).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement(using: &random)! })
                }
                address = try .init(host: .name(labels.joined(separator: ".")), port: port)
            }
            let uri = IdentityURI(publicKey: key, address: address)
            let parsed = try IdentityURI(parsing: uri.description)
            #expect(parsed == uri, "\(uri)")
            #expect(parsed.description == uri.description)
            checked += 1
        }
    }

    /// Parsers never trap on any text, and whatever parses serializes to text that parses to the same value.
    @Test func randomAndMutatedTextNeverTrapsAndWhatParsesRoundTrips() throws {
        var random = SplitMix64(seed: 0xBAD_1DEA)
        let seeds = [
            "parley:\(alice)", "parley:\(bob)@192.0.2.1:7000", "parley:\(alice)@[2001:db8::ffff:1]:443",
            "parley:\(bob)@[::ffff:10.0.0.1]:1", "parley:\(alice)@relay.example.org:65535",
        ]
        let pieces: [String] = [
            "parley:", "@", ":", "::", "[", "]", ".", "%", "=", "-", "_", "/", "+", " ", "0", "9", "255", "65535", "65536",
            "ffff", "é", "\u{0}", "A", "z", alice, "1.2.3.4", "xn--", "🐶",
        ]
        var parsedCount = 0
        for round in 0..<20_000 {
            var text: String
            if round % 3 == 0 {
                text = (0..<Int.random(in: 0...12, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            } else {
                var characters = Array(seeds[round % seeds.count])
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let position = Int.random(in: 0...characters.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0 where position < characters.count:
                        characters.remove(at: position)
                    case 1 where position < characters.count:
                        characters[position] = Array(pieces.randomElement(using: &random)!).first ?? "x"
                    default:
                        characters.insert(contentsOf: Array(pieces.randomElement(using: &random)!), at: position)
                    }
                }
                text = String(characters)
            }
            if let key = try? IdentityPublicKey(base64URL: text) {
                #expect(try IdentityPublicKey(base64URL: key.base64URL) == key)
                #expect(key.base64URL == text, "one spelling per key")
            }
            if let uri = try? IdentityURI(parsing: text) {
                parsedCount += 1
                #expect(try IdentityURI(parsing: uri.description) == uri, "\(text)")
            }
            if let address = try? IdentityURI.Address(parsing: text) {
                #expect(try IdentityURI.Address(parsing: address.description) == address, "\(text)")
            }
        }
        #expect(parsedCount > 1_000, "the mutations keep enough URIs valid to exercise the round trip")
    }
}
