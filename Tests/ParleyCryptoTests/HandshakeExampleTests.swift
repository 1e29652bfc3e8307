import Foundation
@_spi(Testing) import ParleyCrypto
import ParleyWire
import Testing

/// The worked example of Protocols/peer/handshake.md §8: fixed keys, ephemerals, indices, call id and
/// timestamp. The implementation must still produce exactly these bytes, and the specification must
/// still show them.
@Suite struct HandshakeExampleTests {
    static let initiatorPublicKey = "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f"
    static let responderPublicKey = "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
    static let initiatorEphemeralPublicKey = "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
    static let responderEphemeralPublicKey = "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f"
    static let prologue = "7061726c65792f310400000011223344808182838485868788898a8b8c8d8e8f"
    static let initiation = """
        0400000011223344808182838485868788898a8b8c8d8e8f79a631eede1bf9c98f12032cdeadd0e7a079398fc786b8\
        8cc846ec89af85a51a490e569fb851e5473faf5b049247be8dec982dd5d100c69783e410f8ebbf1094ac9c9b509b10\
        904a170414e8148c4ec566b3f5da84799f83a3632204d0ecf27cff0dea8d6e8941a261201edc624ff930aca518aac5
        """
    static let response = """
        050000005566778811223344675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52fd9e8c1\
        2faf857882c8b077581bab5ebd2497e373e6b2d147d9530695e4a8203deac3
        """
    static let handshakeHash = "480bf16db412058ca38d40b8b3b71b29b17aec168a643d36755c1ab1cf1c143a"
    static let initiatorToResponderKey = "d2cd960c53407e0a03a02faaf0678b7a3772f4506d1aee99af01979622549a55"
    static let responderToInitiatorKey = "a2090e0c32712a173a24f1a515644d21f31815688583f0b971893db8d3a4a15b"

    static let timestamp = HandshakeTimestamp(nanosecondsSinceUnixEpoch: 1_735_689_600_000_000_000)  // 2025-01-01T00:00:00Z

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.hexString
    }

    private struct Run {
        var initiatorIdentity: IdentityKeyPair
        var responderIdentity: IdentityKeyPair
        var initiator: HandshakeInitiator
        var response: [UInt8]
        var responderSide: CompletedHandshake
        var initiatorSide: CompletedHandshake
        var offer: [UInt8]
        var answer: [UInt8]
    }

    private static func run() throws -> Run {
        let initiatorIdentity = try IdentityKeyPair(privateKeyRawRepresentation: (0x00...0x1F).map { UInt8($0) })
        let responderIdentity = try IdentityKeyPair(privateKeyRawRepresentation: (0x20...0x3F).map { UInt8($0) })
        let initiatorEphemeral = try NoiseKeyPair(privateKey: (0x40...0x5F).map { UInt8($0) })
        let responderEphemeral = try NoiseKeyPair(privateKey: (0x60...0x7F).map { UInt8($0) })
        let callID = try #require(CallID(bytes: (0x80...0x8F).map { UInt8($0) }))
        let initiator = try HandshakeInitiator(
            identity: initiatorIdentity, responder: responderIdentity.publicKey, callID: callID,
            initiatorIndex: 0x1122_3344, offer: Array("example offer".utf8), timestamp: timestamp,
            ephemeral: initiatorEphemeral)
        let responder = HandshakeResponder(identity: responderIdentity)
        let now = HandshakeTimestamp(rawValue: timestamp.rawValue + 1_500_000_000)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: now)
        let (response, responderSide) = try pending.accept(
            answer: Array("example answer".utf8), responderIndex: 0x5566_7788, ephemeral: responderEphemeral)
        let (answer, initiatorSide) = try initiator.receive(datagram: response[...])
        return Run(
            initiatorIdentity: initiatorIdentity, responderIdentity: responderIdentity, initiator: initiator,
            response: response, responderSide: responderSide, initiatorSide: initiatorSide,
            offer: pending.offer, answer: answer)
    }

    @Test func theImplementationStillProducesTheSpecifiedBytes() throws {
        let run = try Self.run()
        #expect(Self.hex(run.initiatorIdentity.publicKey.rawRepresentation) == Self.initiatorPublicKey)
        #expect(Self.hex(run.responderIdentity.publicKey.rawRepresentation) == Self.responderPublicKey)
        #expect(Self.hex(try NoiseKeyPair(privateKey: (0x40...0x5F).map { UInt8($0) }).publicKey) == Self.initiatorEphemeralPublicKey)
        #expect(Self.hex(try NoiseKeyPair(privateKey: (0x60...0x7F).map { UInt8($0) }).publicKey) == Self.responderEphemeralPublicKey)
        #expect(Self.hex(try HandshakeInitiation(parsing: run.initiator.initiation).prologue) == Self.prologue)
        #expect(Self.hex(run.initiator.initiation) == Self.initiation)
        #expect(Self.hex(run.response) == Self.response)
        #expect(Self.hex(run.initiatorSide.keys.handshakeHash) == Self.handshakeHash)
        #expect(Self.hex(run.responderSide.keys.handshakeHash) == Self.handshakeHash)
        #expect(Self.hex(run.initiatorSide.keys.sendKey) == Self.initiatorToResponderKey)
        #expect(Self.hex(run.responderSide.keys.receiveKey) == Self.initiatorToResponderKey)
        #expect(Self.hex(run.responderSide.keys.sendKey) == Self.responderToInitiatorKey)
        #expect(Self.hex(run.initiatorSide.keys.receiveKey) == Self.responderToInitiatorKey)
        #expect(run.offer == Array("example offer".utf8))
        #expect(run.answer == Array("example answer".utf8))
        #expect(run.initiator.initiation.count == 24 + 32 + 48 + 8 + 13 + 16)
        #expect(run.response.count == 12 + 32 + 4 + 14 + 16)
    }

    @Test func theSpecificationShowsTheseBytes() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Protocols/peer/handshake.md"), encoding: .utf8)
        let compact = String(text.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) })
        for (name, value) in [
            ("initiator public key", Self.initiatorPublicKey), ("responder public key", Self.responderPublicKey),
            ("initiator ephemeral", Self.initiatorEphemeralPublicKey),
            ("responder ephemeral", Self.responderEphemeralPublicKey), ("prologue", Self.prologue),
            ("initiation", Self.initiation), ("response", Self.response), ("handshake hash", Self.handshakeHash),
            ("initiator-to-responder key", Self.initiatorToResponderKey),
            ("responder-to-initiator key", Self.responderToInitiatorKey),
        ] {
            #expect(compact.contains(value), "handshake.md §8 does not show the \(name) \(value)")
        }
    }
}
