import Foundation
import ParleyControl
import ParleyDevices
import ParleyMedia
import Testing

/// Whether this process runs inside `Scripts/vivid-vm` (which sets PARLEY_VIVID=1 and loads vivid).
let insideVividVMForCalls = ProcessInfo.processInfo.environment["PARLEY_VIVID"] == "1"

/// A call whose caller's camera is the kernel's vivid driver, inside the VM (`make test` runs this suite
/// there; elsewhere it is reported as skipped).
@Suite(
    "parleyd with a V4L2 camera (vivid, inside Scripts/vivid-vm)", .serialized,
    .enabled(if: insideVividVMForCalls, "needs the vivid driver: run through Scripts/vivid-vm"))
struct V4L2VividCallTests {
    /// vivid's 75 % colour bars, left to right, BT.601 limited range (V4L2VividTests checks them raw).
    static let bars: [(name: String, y: Int, u: Int, v: Int)] = [
        ("white", 180, 128, 128), ("yellow", 162, 44, 142), ("cyan", 131, 156, 44), ("green", 112, 72, 58),
        ("magenta", 84, 184, 198), ("red", 65, 100, 212), ("blue", 35, 212, 114), ("black", 16, 128, 128),
    ]

    @Test("A caller sends vivid's colour bars; the callee's recording of what it decoded shows them")
    func vividCameraFeedsACall() async throws {
        let camera = try #require(V4L2Devices.captureDevices().first { $0.card == "vivid" }, "no vivid camera")
        let pattern = try #require(try V4L2Devices.controls(camera.path).first { $0.name == "Test Pattern" })
        try V4L2Devices.setControl(pattern.id, to: 0, path: camera.path)  // the colour bars
        // No text over the picture: at 320x180 vivid's status lines would cover most of the bars.
        let osd = try #require(try V4L2Devices.controls(camera.path).first { $0.name == "OSD Text Mode" })
        try V4L2Devices.setControl(osd.id, to: 2, path: camera.path)
        async let startedA = Daemon(
            // Small and slow: the VM emulates its CPU (TCG), and both engines share it.
            "vivid-a", arguments: ["--video-source", "v4l2:\(camera.path)", "--video-size", "320x240", "--frame-rate", "5",
                "--video-bitrate", "200000"])
        async let startedB = Daemon("vivid-b", arguments: ["--auto-answer"])
        let pair = try await DaemonPair(a: startedA, b: startedB)
        let a = try pair.a.client()
        let b = try pair.b.client()
        let sources = try await a.call(MethodName.v1("Devices/List"))["sources"]?.elements.compactMap { $0["id"]?.text } ?? []
        #expect(sources.contains("v4l2:\(camera.path)"), "sources: \(sources)")
        let uriB = try #require(try await b.call(MethodName.v1("Identity/Get"))["uri"]?.text)
        _ = try await a.call(MethodName.v1("Calls/Dial"), params: ["peer": .string(uriB), "wait": true, "timeout_ms": 60_000])
        let callB = try #require(try await b.call(MethodName.v1("Calls/List"))["calls"]?.elements.first?["call_id"]?.text)
        let callA = try #require(try await a.call(MethodName.v1("Calls/List"))["calls"]?.elements.first?["call_id"]?.text)
        // Under emulation opening the camera (enumerating its modes) takes seconds: wait for video.
        func decodedAtB() async throws -> Double {
            let stats = try await b.call(MethodName.v1("Calls/Stats"), params: ["call_id": .string(callB)])
            return inbound(stats, "video")?["framesDecoded"]?.double ?? 0
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(90)
        while try await decodedAtB() < 2, clock.now < deadline { try await Task.sleep(for: .milliseconds(500)) }
        let recording = pair.b.directory.appendingPathComponent("vivid.y4m").path
        _ = try await b.call(MethodName.v1("Calls/Record"), params: ["call_id": .string(callB), "received_video": .string(recording)])
        let before = try await decodedAtB()
        while try await decodedAtB() < before + 5, clock.now < deadline { try await Task.sleep(for: .milliseconds(500)) }
        _ = try await b.call(MethodName.v1("Calls/Record"), params: ["call_id": .string(callB), "received_video": .null])
        let sent = try await a.call(MethodName.v1("Calls/Stats"), params: ["call_id": .string(callA)])
        let received = try await b.call(MethodName.v1("Calls/Stats"), params: ["call_id": .string(callB)])
        let diagnosis = "A sent \(sent["outbound"] ?? .null) media \(sent["media"] ?? .null); B got \(received["inbound"] ?? .null); A's log:\n\(pair.a.logText)"

        var reader = try #require(try? Y4MReader(path: recording), "no video recorded: \(diagnosis)")
        var frames: [VideoFrame] = []
        while let frame = reader.next() { frames.append(frame) }
        // vivid's webcam sizes at or under 320x240: 320x180.
        #expect(reader.width == 320 && reader.height == 180)
        #expect(frames.count >= 3, "frames decoded at the callee: \(frames.count); \(diagnosis)")
        let last = try #require(frames.last)
        for (index, bar) in Self.bars.enumerated() {
            let x = last.width / 16 + last.width / 8 * index
            let y = last.height / 2
            let luma = Int(last.luma(x: x, y: y))
            let u = last.withPlane(.u) { Int($0[(y / 2) * last.stride(of: .u) + x / 2]) }
            let v = last.withPlane(.v) { Int($0[(y / 2) * last.stride(of: .v) + x / 2]) }
            // After VP8 at the call's bitrate: flat bars survive within a few steps.
            #expect(abs(luma - bar.y) <= 10 && abs(u - bar.u) <= 10 && abs(v - bar.v) <= 10, "\(bar.name): \(luma)/\(u)/\(v)")
        }
        await pair.stop()
    }
}
