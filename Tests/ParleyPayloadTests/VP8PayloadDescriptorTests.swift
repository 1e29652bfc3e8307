import ParleyPayload
import ParleyWire
import Testing

@Suite struct VP8PayloadDescriptorTests {
    /// One descriptor form: its bytes (then one VP8 byte, 0xAA), and the descriptor they mean.
    struct Form: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let descriptor: VP8PayloadDescriptor
        var testDescription: String { name }
    }

    static let forms: [Form] = [
        Form(
            name: "short: S=1, PID=0",
            bytes: [
                0x10,  // X=0 R=0 N=0 S=1 R=0 PID=0
                0xAA,  // VP8 payload
            ],
            descriptor: VP8PayloadDescriptor()),
        Form(
            name: "short: non-reference, continuation of partition 3",
            bytes: [
                0x23,  // X=0 R=0 N=1 S=0 R=0 PID=3
                0xAA,
            ],
            descriptor: VP8PayloadDescriptor(isNonReference: true, isStartOfPartition: false, partitionIndex: 3)),
        Form(
            name: "7-bit PictureID",
            bytes: [
                0x90,  // X=1 N=0 S=1 PID=0
                0x80,  // I=1 L=0 T=0 K=0 RSV=0
                0x15,  // M=0 PictureID=21
                0xAA,
            ],
            descriptor: VP8PayloadDescriptor(pictureID: .sevenBit(21))),
        Form(
            name: "15-bit PictureID",
            bytes: [
                0x90,  // X=1 S=1
                0x80,  // I=1
                0x81, 0x23,  // M=1 PictureID=0x0123
                0xAA,
            ],
            descriptor: VP8PayloadDescriptor(pictureID: .fifteenBit(0x0123))),
        Form(
            name: "15-bit PictureID and TL0PICIDX",
            bytes: [
                0x80,  // X=1 S=0
                0xC0,  // I=1 L=1
                0xFF, 0xFE,  // M=1 PictureID=0x7FFE
                0x05,  // TL0PICIDX=5
                0xAA,
            ],
            descriptor: VP8PayloadDescriptor(
                isStartOfPartition: false, pictureID: .fifteenBit(0x7FFE), tl0PictureIndex: 5)),
        Form(
            name: "every field: PictureID, TL0PICIDX, TID/Y, KEYIDX",
            bytes: [
                0xB0,  // X=1 N=1 S=1 PID=0
                0xF0,  // I=1 L=1 T=1 K=1
                0x80, 0x01,  // M=1 PictureID=1
                0x42,  // TL0PICIDX=0x42
                0xB7,  // TID=2 Y=1 KEYIDX=23
                0xAA,
            ],
            descriptor: VP8PayloadDescriptor(
                isNonReference: true, pictureID: .fifteenBit(1), tl0PictureIndex: 0x42,
                temporalLayer: .init(id: 2, isLayerSync: true), keyIndex: 23)),
        Form(
            name: "TID/Y only",
            bytes: [
                0x90,  // X=1 S=1
                0x20,  // T=1
                0x40,  // TID=1 Y=0 KEYIDX=0 (ignored: K=0)
                0xAA,
            ],
            descriptor: VP8PayloadDescriptor(temporalLayer: .init(id: 1))),
        Form(
            name: "KEYIDX only",
            bytes: [
                0x90,  // X=1 S=1
                0x10,  // K=1
                0x1F,  // TID=0 Y=0 (ignored: T=0) KEYIDX=31
                0xAA,
            ],
            descriptor: VP8PayloadDescriptor(keyIndex: 31)),
    ]

    @Test(arguments: forms)
    func parsesEachForm(_ form: Form) throws {
        let payload = try VP8RTPPayload(parsing: form.bytes[...])
        #expect(payload.descriptor == form.descriptor)
        #expect(payload.data == [0xAA])
        #expect(payload.descriptor.serializedSize == form.bytes.count - 1)
    }

    @Test(arguments: forms)
    func serializesEachFormToTheSameBytes(_ form: Form) {
        let payload = VP8RTPPayload(descriptor: form.descriptor, data: [0xAA])
        #expect(payload.serialize() == form.bytes)
        #expect(payload.serializedSize == form.bytes.count)
    }

    @Test(arguments: forms)
    func parseSerializeParseIsIdentity(_ form: Form) throws {
        let once = try VP8RTPPayload(parsing: form.bytes[...])
        let twice = try VP8RTPPayload(parsing: once.serialize()[...])
        #expect(twice == once)
    }

    @Test func reservedBitsAndIgnoredFieldsAreDroppedAndWrittenAsZero() throws {
        let bytes: [UInt8] = [
            0xD8,  // X=1 R=1 N=0 S=1 R=1 PID=0
            0x2F,  // I=0 L=0 T=1 K=0 RSV=0xF
            0x5F,  // TID=1 Y=0 KEYIDX=31 (ignored: K=0)
            0xAA,
        ]
        let payload = try VP8RTPPayload(parsing: bytes[...])
        #expect(payload.descriptor == VP8PayloadDescriptor(temporalLayer: .init(id: 1)))
        #expect(payload.serialize() == [0x90, 0x20, 0x40, 0xAA])
    }

    @Test func extensionByteWithNoFieldsReserializesAsTheShortForm() throws {
        let payload = try VP8RTPPayload(parsing: [0x90, 0x00, 0xAA][...])  // X=1, I=L=T=K=0
        #expect(payload.descriptor == VP8PayloadDescriptor())
        #expect(payload.serialize() == [0x10, 0xAA])
    }

    @Test func startOfFrameNeedsSAndPartitionZero() {
        #expect(VP8PayloadDescriptor(isStartOfPartition: true, partitionIndex: 0).isStartOfFrame)
        #expect(!VP8PayloadDescriptor(isStartOfPartition: true, partitionIndex: 1).isStartOfFrame)
        #expect(!VP8PayloadDescriptor(isStartOfPartition: false, partitionIndex: 0).isStartOfFrame)
    }

    @Test func pictureIDsWrapWithinTheirWidth() {
        #expect(VP8PayloadDescriptor.PictureID.sevenBit(127).next == .sevenBit(0))
        #expect(VP8PayloadDescriptor.PictureID.fifteenBit(0x7FFF).next == .fifteenBit(0))
        #expect(VP8PayloadDescriptor.PictureID.fifteenBit(0x1234).next.value == 0x1235)
    }

    // MARK: - One test per truncation.

    private func parseError(_ bytes: [UInt8]) -> WireError? {
        do {
            _ = try VP8RTPPayload(parsing: bytes[...])
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyPayloadIsTruncatedAtTheFirstByte() {
        #expect(parseError([]) == .truncated(field: "VP8 descriptor X/N/S/PID", needed: 1, available: 0))
    }

    @Test func extensionBitWithoutTheExtensionByteIsTruncated() {
        #expect(parseError([0x90]) == .truncated(field: "VP8 descriptor I/L/T/K", needed: 1, available: 0))
    }

    @Test func pictureIDFlagWithoutAPictureIDIsTruncated() {
        #expect(parseError([0x90, 0x80]) == .truncated(field: "VP8 PictureID", needed: 1, available: 0))
    }

    @Test func fifteenBitPictureIDMissingItsSecondByteIsTruncated() {
        #expect(parseError([0x90, 0x80, 0x81]) == .truncated(field: "VP8 PictureID (15-bit)", needed: 1, available: 0))
    }

    @Test func tl0PictureIndexFlagWithoutTheByteIsTruncated() {
        #expect(parseError([0x90, 0x40]) == .truncated(field: "VP8 TL0PICIDX", needed: 1, available: 0))
    }

    @Test func temporalLayerFlagWithoutTheByteIsTruncated() {
        #expect(parseError([0x90, 0x20]) == .truncated(field: "VP8 TID/Y/KEYIDX", needed: 1, available: 0))
    }

    @Test func keyIndexFlagWithoutTheByteIsTruncated() {
        #expect(parseError([0x90, 0x10]) == .truncated(field: "VP8 TID/Y/KEYIDX", needed: 1, available: 0))
    }

    @Test func descriptorWithNoVP8BytesAfterItIsTruncated() {
        #expect(parseError([0x90, 0x80, 0x15]) == .truncated(field: "VP8 payload", needed: 1, available: 0))
    }
}
