import Foundation
@_spi(Testing) import ParleyCrypto
import ParleyWire
import Testing

/// The Noise Protocol Framework test vectors from cacophony and snow (Vectors/noise-ik-xx.json, copied
/// byte-identical from ../shared/vectors): every IK, IKpsk2 and XX entry, both ciphers. Keys in the file
/// are private keys; `init_remote_static` is the responder's public key.
private struct NoiseVectors: Decodable {
    struct Message: Decodable {
        var payload: String
        var ciphertext: String
    }

    struct Vector: Decodable {
        var protocolName: String
        var initPrologue: String
        var initStatic: String?
        var initEphemeral: String
        var initRemoteStatic: String?
        var initPsks: [String]?
        var respPrologue: String
        var respStatic: String?
        var respEphemeral: String
        var respPsks: [String]?
        var handshakeHash: String?
        var messages: [Message]
        var source: String
    }

    var vectors: [Vector]

    static func load() throws -> NoiseVectors {
        let url = try #require(Bundle.module.url(forResource: "noise-ik-xx", withExtension: "json", subdirectory: "Vectors"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(NoiseVectors.self, from: Data(contentsOf: url))
    }
}

private func bytes(_ hex: String) -> [UInt8] {
    [UInt8](hexString: hex)!
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.hexString
}

/// Runs one vector: both sides with their fixed keys, every handshake message written by one side
/// compared with the vector and read by the other, then every transport message both ways.
private func run(_ vector: NoiseVectors.Vector) throws {
    let noiseProtocol = try #require(NoiseProtocol(name: vector.protocolName), "\(vector.protocolName)")
    #expect(noiseProtocol.name == vector.protocolName)
    var initiator = try NoiseHandshakeState(
        protocol: noiseProtocol, role: .initiator, prologue: bytes(vector.initPrologue),
        localStatic: try vector.initStatic.map { try NoiseKeyPair(privateKey: bytes($0)) },
        localEphemeral: try NoiseKeyPair(privateKey: bytes(vector.initEphemeral)),
        remoteStaticKey: vector.initRemoteStatic.map(bytes), presharedKey: vector.initPsks?.first.map(bytes))
    var responder = try NoiseHandshakeState(
        protocol: noiseProtocol, role: .responder, prologue: bytes(vector.respPrologue),
        localStatic: try vector.respStatic.map { try NoiseKeyPair(privateKey: bytes($0)) },
        localEphemeral: try NoiseKeyPair(privateKey: bytes(vector.respEphemeral)),
        presharedKey: vector.respPsks?.first.map(bytes))

    let handshakeMessages = noiseProtocol.pattern == .xx ? 3 : 2
    #expect(vector.messages.count > handshakeMessages)
    for (index, message) in vector.messages.prefix(handshakeMessages).enumerated() {
        let fromInitiator = index % 2 == 0
        let written = fromInitiator
            ? try initiator.writeMessage(payload: bytes(message.payload)[...])
            : try responder.writeMessage(payload: bytes(message.payload)[...])
        #expect(hex(written) == message.ciphertext, "\(vector.protocolName) handshake message \(index)")
        let read = fromInitiator
            ? try responder.readMessage(written[...])
            : try initiator.readMessage(written[...])
        #expect(hex(read) == message.payload, "\(vector.protocolName) handshake payload \(index)")
    }
    #expect(initiator.isComplete && responder.isComplete)
    #expect(initiator.handshakeHash == responder.handshakeHash)
    if let expected = vector.handshakeHash {
        #expect(hex(initiator.handshakeHash) == expected, "\(vector.protocolName) handshake hash")
    }
    #expect(responder.remoteStaticKey == (try vector.initStatic.map { try NoiseKeyPair(privateKey: bytes($0)).publicKey }))

    var (initiatorSend, initiatorReceive) = try initiator.split()
    var (responderSend, responderReceive) = try responder.split()
    for (index, message) in vector.messages.enumerated().dropFirst(handshakeMessages) {
        let plaintext = bytes(message.payload)
        if index % 2 == 0 {
            let ciphertext = try initiatorSend.encrypt(plaintext[...])
            #expect(hex(ciphertext) == message.ciphertext, "\(vector.protocolName) transport message \(index)")
            #expect(try responderReceive.decrypt(ciphertext[...]) == plaintext)
        } else {
            let ciphertext = try responderSend.encrypt(plaintext[...])
            #expect(hex(ciphertext) == message.ciphertext, "\(vector.protocolName) transport message \(index)")
            #expect(try initiatorReceive.decrypt(ciphertext[...]) == plaintext)
        }
    }
}

@Suite struct NoiseVectorTests {
    @Test func everyIKEntryReproducesExactly() throws {
        let vectors = try NoiseVectors.load().vectors.filter { $0.protocolName.hasPrefix("Noise_IK_") }
        // cacophony and snow, AESGCM and ChaChaPoly each.
        #expect(vectors.count == 4)
        #expect(Set(vectors.map(\.protocolName)) == ["Noise_IK_25519_AESGCM_SHA256", "Noise_IK_25519_ChaChaPoly_SHA256"])
        for vector in vectors {
            try run(vector)
        }
    }

    @Test func everyIKpsk2EntryReproducesExactly() throws {
        let vectors = try NoiseVectors.load().vectors.filter { $0.protocolName.hasPrefix("Noise_IKpsk2_") }
        #expect(vectors.count == 2)
        for vector in vectors {
            try run(vector)
        }
    }

    @Test func everyXXEntryReproducesExactly() throws {
        let vectors = try NoiseVectors.load().vectors.filter { $0.protocolName.hasPrefix("Noise_XX_") }
        #expect(vectors.count == 4)
        for vector in vectors {
            try run(vector)
        }
    }

    @Test func theFileHoldsNoEntryThisSuiteSkips() throws {
        let all = try NoiseVectors.load().vectors
        #expect(all.count == 10)
        #expect(all.allSatisfy { NoiseProtocol(name: $0.protocolName) != nil })
    }
}
