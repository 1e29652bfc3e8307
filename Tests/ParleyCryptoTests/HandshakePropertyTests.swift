@_spi(Testing) import ParleyCrypto
import ParleyWire
import Testing


private func randomBytes(firstByte: UInt8?, using random: inout SplitMix64) -> [UInt8] {
    var bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    if let firstByte, !bytes.isEmpty {
        bytes[0] = firstByte
        if bytes.count >= 4 { bytes[1...3] = [0, 0, 0] }
    }
    return bytes
}

/// Random, mutated and truncated datagrams into both sides: nothing traps, and nothing but the
/// genuine bytes is ever accepted (every byte of both datagrams is authenticated).
@Suite struct HandshakePropertyTests {
    @Test func noRandomOrMutatedInitiationTrapsOrIsAccepted() throws {
        var random = SplitMix64(seed: 0x4A4D_5348)
        let initiation = try HandshakeFixture.aliceCallsBob().initiation
        var accepted = 0
        for round in 0..<3_000 {
            let bytes = round % 3 == 0
                ? randomBytes(firstByte: round % 2 == 0 ? HandshakeInitiation.type : nil, using: &random)
                : random.mutated(initiation)
            // A responder is a class (one owner, never copied): each round gets a fresh one, so an
            // initiation accepted in one round does not make the genuine one a replay in the next.
            let fresh = HandshakeResponder(identity: HandshakeFixture.bob)
            do {
                _ = try fresh.receive(datagram: bytes[...], now: HandshakeFixture.noon)
                accepted += 1
                #expect(bytes == initiation, "a changed initiation was accepted: \(bytes)")
            } catch {
                #expect(fresh.replayGuard.count == 0)
            }
        }
        #expect(accepted < 100)
    }

    @Test func noRandomOrMutatedResponseTrapsOrIsAccepted() throws {
        var random = SplitMix64(seed: 0x5245_5350)
        // A fixed ephemeral key makes every initiator below the same handshake, so each accepts the one
        // genuine response. An initiator is a class (one owner, never copied): each round gets a fresh
        // one, so a response accepted in one round does not leave the next round's initiator complete.
        let ephemeral = NoiseKeyPair.generate()
        let initiator = try HandshakeFixture.aliceCallsBob(ephemeral: ephemeral)
        let responder = HandshakeResponder(identity: HandshakeFixture.bob)
        let pending = try responder.receive(datagram: initiator.initiation[...], now: HandshakeFixture.noon)
        let (response, _) = try pending.accept(answer: Array("answer".utf8), responderIndex: 0xB0B)
        for round in 0..<3_000 {
            let bytes = round % 3 == 0
                ? randomBytes(firstByte: round % 2 == 0 ? HandshakeResponse.type : nil, using: &random)
                : random.mutated(response)
            let fresh = try HandshakeFixture.aliceCallsBob(ephemeral: ephemeral)
            do {
                _ = try fresh.receive(datagram: bytes[...])
                #expect(bytes == response, "a changed response was accepted: \(bytes)")
            } catch {
                #expect(!fresh.isComplete)
            }
        }
    }

    @Test func theWireParsersNeverTrapAndRoundTripWhatTheyAccept() throws {
        var random = SplitMix64(seed: 0x5041_5253)
        let initiation = try HandshakeFixture.aliceCallsBob().initiation
        for _ in 0..<20_000 {
            let bytes = random.mutated(initiation)
            if let parsed = try? HandshakeInitiation(parsing: bytes) {
                #expect(parsed.serialize() == bytes)
            }
            var asResponse = bytes
            if !asResponse.isEmpty { asResponse[0] = HandshakeResponse.type }
            if let parsed = try? HandshakeResponse(parsing: asResponse) {
                #expect(parsed.serialize() == asResponse)
            }
        }
    }
}
