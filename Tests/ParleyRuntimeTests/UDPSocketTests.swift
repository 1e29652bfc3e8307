import Dispatch
import ParleyRuntime
import ParleySession
import ParleyWire
import Testing

/// Receives the next datagram, waiting for it as long as a loaded machine could need (not a timing check).
private func receiveNext(_ socket: UDPSocket, maximumSize: Int = 65_535) throws -> UDPSocket.Datagram? {
    guard try socket.waitForReadable(timeout: .seconds(10)) else { return nil }
    return try socket.receive(maximumSize: maximumSize)
}

/// A socket on `ip`'s loopback with a port the kernel picks.
private func loopbackSocket(_ ip: IPAddress) throws -> UDPSocket {
    try UDPSocket(binding: SocketAddress(ip, port: 0))
}

@Suite struct UDPSocketTests {
    @Test(arguments: [IPAddress.loopbackV4, .loopbackV6])
    func twoSocketsExchangeDatagramsBothWays(ip: IPAddress) throws {
        let alice = try loopbackSocket(ip)
        let bob = try loopbackSocket(ip)
        #expect(alice.localAddress.ip == ip && alice.localAddress.port != 0)
        #expect(alice.localAddress != bob.localAddress)

        try alice.send([0x06, 1, 2, 3], to: bob.localAddress)
        let atBob = try #require(try receiveNext(bob))
        #expect(atBob == UDPSocket.Datagram(bytes: [0x06, 1, 2, 3], source: alice.localAddress))

        try bob.send([0x80, 9, 8], to: atBob.source)
        let atAlice = try #require(try receiveNext(alice))
        #expect(atAlice == UDPSocket.Datagram(bytes: [0x80, 9, 8], source: bob.localAddress))
    }

    @Test func dualStackSocketTalksToAnIPv4PeerUnderItsPlainIPv4Address() throws {
        let dualStack = try UDPSocket(binding: SocketAddress(.anyV6, port: 0))
        let ipv4Peer = try loopbackSocket(.loopbackV4)

        // The IPv4 peer reaches the dual-stack socket through 127.0.0.1.
        try ipv4Peer.send([1, 2, 3], to: .loopbackV4(port: dualStack.localAddress.port))
        let received = try #require(try receiveNext(dualStack))
        // The source arrives as ::ffff:127.0.0.1 and is reported unmapped.
        #expect(received.source == ipv4Peer.localAddress)

        // Replying to that IPv4 address works from the IPv6 socket.
        try dualStack.send([4, 5], to: received.source)
        let reply = try #require(try receiveNext(ipv4Peer))
        #expect(reply == UDPSocket.Datagram(bytes: [4, 5], source: .loopbackV4(port: dualStack.localAddress.port)))
    }

    @Test(arguments: [IPAddress.loopbackV4, .loopbackV6])
    func emptyDatagramArrivesAsAnEmptyDatagram(ip: IPAddress) throws {
        let sender = try loopbackSocket(ip)
        let receiver = try loopbackSocket(ip)
        try sender.send([], to: receiver.localAddress)
        let received = try #require(try receiveNext(receiver))
        #expect(received.bytes.isEmpty)
        #expect(received.source == sender.localAddress)
        #expect(try receiver.receive() == nil)
    }

    @Test(arguments: [IPAddress.loopbackV4, .loopbackV6])
    func largestIPv4SizedDatagramArrivesWhole(ip: IPAddress) throws {
        let sender = try loopbackSocket(ip)
        let receiver = try loopbackSocket(ip)
        var generator = SplitMix64(seed: 7)
        let bytes = (0..<UDPSocket.maximumIPv4Payload).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try sender.send(bytes, to: receiver.localAddress)
        let received = try #require(try receiveNext(receiver))
        #expect(received.bytes.count == 65_507)
        #expect(received.bytes == bytes)
    }

    @Test func datagramLongerThanTheBufferIsReportedTruncated() throws {
        let sender = try loopbackSocket(.loopbackV4)
        let receiver = try loopbackSocket(.loopbackV4)
        try sender.send(Array(0..<100), to: receiver.localAddress)
        #expect(try receiver.waitForReadable(timeout: .seconds(10)))
        var buffer = [UInt8](repeating: 0, count: 10)
        let reception = try #require(try receiver.receive(into: &buffer))
        #expect(reception == UDPSocket.Reception(byteCount: 10, source: sender.localAddress, wasTruncated: true))
        #expect(buffer == Array(0..<10))
    }

    @Test(arguments: [IPAddress.loopbackV4, .loopbackV6])
    func receiveWithNothingWaitingReturnsNil(ip: IPAddress) throws {
        let socket = try loopbackSocket(ip)
        #expect(try socket.receive() == nil)
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(try socket.receive(into: &buffer) == nil)
    }

    @Test func waitForReadableReturnsFalseWhenNothingArrives() throws {
        let socket = try loopbackSocket(.loopbackV4)
        #expect(try socket.waitForReadable(timeout: .milliseconds(20)) == false)
        #expect(try socket.waitForReadable(timeout: .zero) == false)
        // Negative timeouts must not become poll(2)'s "wait forever".
        #expect(try socket.waitForReadable(timeout: .milliseconds(-500)) == false)
        #expect(try socket.waitForReadable(timeout: .seconds(-3)) == false)
    }

    @Test func waitForReadableWakesWhenADatagramArrivesDuringTheWait() throws {
        let socket = try loopbackSocket(.loopbackV6)
        let destination = socket.localAddress
        let peer = try UDPSocket(binding: .loopbackV6(port: 0))
        // A Dispatch thread (not Swift concurrency's pool, which blocked tests can exhaust) sends while
        // this thread is blocked in poll(2); the long timeout is never reached.
        let sent = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let sender = peer
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) {
            try? sender.send([42], to: destination)
            sent.signal()
        }
        #expect(try socket.waitForReadable(timeout: .seconds(30)))
        sent.wait()
        #expect(try socket.receive()?.bytes == [42])
    }

    @Test func timeoutTooLargeForPollIsCappedNotOverflowed() throws {
        let socket = try loopbackSocket(.loopbackV4)
        try socket.send([1], to: socket.localAddress)  // to itself, so it is waiting before the long wait
        #expect(try socket.waitForReadable(timeout: .seconds(10)))
        #expect(try socket.waitForReadable(timeout: .seconds(Int64.max)))
        #expect(try socket.receive()?.bytes == [1])
    }

    @Test(arguments: [IPAddress.loopbackV4, .loopbackV6])
    func batchOfDatagramsArrivesWholeAndInOrder(ip: IPAddress) throws {
        let sender = try loopbackSocket(ip)
        let receiver = try loopbackSocket(ip)
        let batch: [[UInt8]] = [
            [0x80, 1, 2, 3],  // a small one first
            [],  // an empty datagram keeps its place
            [UInt8](repeating: 0xA5, count: 1_200),  // a full video packet
            [0x06, 9],  // a short one after it
        ]
        let outcome = try sender.send(batch: batch, to: receiver.localAddress)
        #expect(outcome == UDPSocket.BatchSendOutcome(sent: 4))
        for expected in batch {
            let received = try #require(try receiveNext(receiver))
            #expect(received == UDPSocket.Datagram(bytes: expected, source: sender.localAddress))
        }
        #expect(try receiver.receive() == nil)
    }

    @Test func batchOfNoneOrOneDatagramSendsExactlyThat() throws {
        let sender = try loopbackSocket(.loopbackV4)
        let receiver = try loopbackSocket(.loopbackV4)
        #expect(try sender.send(batch: [], to: receiver.localAddress) == UDPSocket.BatchSendOutcome())
        #expect(try sender.send(batch: [[7, 7]], to: receiver.localAddress) == UDPSocket.BatchSendOutcome(sent: 1))
        #expect(try receiveNext(receiver)?.bytes == [7, 7])
        #expect(try receiver.receive() == nil)
    }

    @Test func batchFromADualStackSocketReachesAnIPv4Peer() throws {
        let dualStack = try UDPSocket(binding: SocketAddress(.anyV6, port: 0))
        let ipv4Peer = try loopbackSocket(.loopbackV4)
        #expect(try dualStack.send(batch: [[1], [2, 2]], to: ipv4Peer.localAddress).sent == 2)
        #expect(try receiveNext(ipv4Peer)?.bytes == [1])
        #expect(try receiveNext(ipv4Peer)?.bytes == [2, 2])
    }

    @Test func batchToAClosedPortLeavesTheSocketWorking() throws {
        let closedPort: UInt16 = try loopbackSocket(.loopbackV4).localAddress.port  // closed once the probe is gone
        let socket = try loopbackSocket(.loopbackV4)
        let peer = try loopbackSocket(.loopbackV4)
        for _ in 0..<3 {
            // The kernel may report the earlier batches' port-unreachable on a later call; it is absorbed.
            _ = try socket.send(batch: [[0xAA], [0xBB]], to: .loopbackV4(port: closedPort))
        }
        #expect(try socket.send(batch: [[3], [4]], to: peer.localAddress) == UDPSocket.BatchSendOutcome(sent: 2))
        #expect(try receiveNext(peer)?.bytes == [3])
        #expect(try receiveNext(peer)?.bytes == [4])
    }

    @Test func batchToAnIPv6DestinationOnAnIPv4SocketIsAFamilyMismatch() throws {
        let socket = try loopbackSocket(.loopbackV4)
        #expect(throws: RuntimeError.familyMismatch(destination: .loopbackV6(port: 9))) {
            _ = try socket.send(batch: [[1], [2]], to: .loopbackV6(port: 9))
        }
    }

    @Test func sendingToAClosedPortLeavesTheSocketWorking() throws {
        let closedPort: UInt16 = try {
            let probe = try loopbackSocket(.loopbackV4)
            return probe.localAddress.port
        }()  // the probe is closed here: its port answers with ICMP port-unreachable
        let socket = try loopbackSocket(.loopbackV4)
        let peer = try loopbackSocket(.loopbackV4)
        for _ in 0..<5 {
            try socket.send([0xAA], to: .loopbackV4(port: closedPort))
        }
        #expect(try socket.receive() == nil)
        try peer.send([1], to: socket.localAddress)
        #expect(try receiveNext(socket)?.bytes == [1])
        try socket.send([2], to: peer.localAddress)
        #expect(try receiveNext(peer)?.bytes == [2])
    }

    @Test func ipv6DestinationOnAnIPv4SocketIsAFamilyMismatch() throws {
        let socket = try loopbackSocket(.loopbackV4)
        #expect(throws: RuntimeError.familyMismatch(destination: .loopbackV6(port: 9))) {
            try socket.send([1], to: .loopbackV6(port: 9))
        }
    }

    @Test func bindingAPortInUseNamesBindAndEADDRINUSE() throws {
        let first = try loopbackSocket(.loopbackV4)
        #expect(throws: RuntimeError.system(operation: .bind, errno: 98 /* EADDRINUSE */)) {
            _ = try UDPSocket(binding: first.localAddress)
        }
    }

    @Test func bufferSizesFollowWhatIsAskedFor() throws {
        let socket = try loopbackSocket(.loopbackV4)
        try socket.setReceiveBufferSize(4_096)
        try socket.setSendBufferSize(4_096)
        let smallReceive = try socket.receiveBufferSize()
        let smallSend = try socket.sendBufferSize()
        #expect(smallReceive <= 16_384 && smallSend <= 16_384)
        // rmem_max / wmem_max may cap the larger request, but not below the defaults of 208 KiB.
        try socket.setReceiveBufferSize(1 << 20)
        try socket.setSendBufferSize(1 << 20)
        #expect(try socket.receiveBufferSize() > smallReceive)
        #expect(try socket.sendBufferSize() > smallSend)
    }
}
