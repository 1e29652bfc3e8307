import ParleyRuntime
import ParleySession
import Testing

@Suite struct ReceiveBatchTests {
    /// Receives batches until `expected` datagrams arrived (or 10 s pass without one: a failure, not a
    /// timing check); returns each datagram with its truncation flag.
    private func collect(_ expected: Int, from socket: UDPSocket, into batch: ReceiveBatch) throws
        -> [(datagram: UDPSocket.Datagram, truncated: Bool)]
    {
        var collected: [(datagram: UDPSocket.Datagram, truncated: Bool)] = []
        while collected.count < expected {
            if try socket.receive(into: batch) == 0 {
                guard try socket.waitForReadable(timeout: .seconds(10)) else { break }
                continue
            }
            #expect(batch.count <= batch.capacity)
            for index in 0..<batch.count {
                collected.append((UDPSocket.Datagram(bytes: batch.bytes(at: index), source: batch.source(at: index)), batch.wasTruncated(at: index)))
            }
        }
        return collected
    }

    @Test(arguments: [IPAddress.loopbackV4, .loopbackV6])
    func oneBatchDeliversSeveralDatagramsInOrderWithTheirSources(ip: IPAddress) throws {
        let sender = try UDPSocket(binding: SocketAddress(ip, port: 0))
        let receiver = try UDPSocket(binding: SocketAddress(ip, port: 0))
        let sent: [[UInt8]] = [[0x06, 1], [], Array(repeating: 0x80, count: 100), [0x04]]
        for bytes in sent { try sender.send(bytes, to: receiver.localAddress) }
        let batch = ReceiveBatch(capacity: 8, maximumDatagramSize: 100)
        let received = try collect(sent.count, from: receiver, into: batch)
        #expect(received.map(\.datagram.bytes) == sent)
        #expect(received.allSatisfy { $0.datagram.source == sender.localAddress && !$0.truncated })
        #expect(try receiver.receive(into: batch) == 0)
        #expect(batch.count == 0)
    }

    @Test func datagramLongerThanItsSlotIsCutAndMarked() throws {
        let sender = try UDPSocket(binding: .loopbackV4(port: 0))
        let receiver = try UDPSocket(binding: .loopbackV4(port: 0))
        try sender.send(Array(0..<50), to: receiver.localAddress)
        try sender.send([7], to: receiver.localAddress)
        let batch = ReceiveBatch(capacity: 4, maximumDatagramSize: 16)
        let received = try collect(2, from: receiver, into: batch)
        try #require(received.count == 2)
        #expect(received[0].datagram.bytes == Array(0..<16) && received[0].truncated)
        #expect(received[1].datagram.bytes == [7] && !received[1].truncated)
    }

    @Test func aSmallBatchTakesOnlyWhatItHoldsAndLeavesTheRest() throws {
        let sender = try UDPSocket(binding: .loopbackV4(port: 0))
        let receiver = try UDPSocket(binding: .loopbackV4(port: 0))
        for value in UInt8(0)..<5 { try sender.send([value], to: receiver.localAddress) }
        let batch = ReceiveBatch(capacity: 2)
        let received = try collect(5, from: receiver, into: batch)
        #expect(received.map(\.datagram.bytes) == [[0], [1], [2], [3], [4]])
    }

    @Test func dualStackBatchReportsAnIPv4PeerUnmapped() throws {
        let dualStack = try UDPSocket(binding: SocketAddress(.anyV6, port: 0))
        let ipv4Peer = try UDPSocket(binding: .loopbackV4(port: 0))
        try ipv4Peer.send([9], to: .loopbackV4(port: dualStack.localAddress.port))
        let received = try collect(1, from: dualStack, into: ReceiveBatch(capacity: 4))
        #expect(received.first?.datagram == UDPSocket.Datagram(bytes: [9], source: ipv4Peer.localAddress))
    }
}
