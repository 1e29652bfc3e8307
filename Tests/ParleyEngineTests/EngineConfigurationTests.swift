import ParleyEngine
import ParleyRuntime
import ParleySession
import Testing

/// `parleyd`'s configuration file and flag values.
@Suite("Engine configuration")
struct EngineConfigurationTests {
    @Test("A configuration file sets every key it names; comments, blank lines and quotes are allowed")
    func configurationFileSetsItsKeys() throws {
        var configuration = EngineConfiguration(environment: ["XDG_RUNTIME_DIR": "/run/user/7", "HOME": "/home/k"])
        #expect(configuration.socketPath == "/run/user/7/parley/control.sock")
        #expect(configuration.stateDirectory == "/home/k/.local/state/parley")
        let text = """
            # kiosk in the hall
            socket = "/run/parley/hall.sock"
            state-dir = /var/lib/parley-hall

            bind = 0.0.0.0
            port = 47010   # the firewall opens this one
            advertise = 192.0.2.7
            advertise = 2001:db8::7
            auto-answer = yes
            video-size = 1280x720
            frame-rate = 15
            video-bitrate = 1500000
            """
        try configuration.apply(configurationFile: text, name: "hall.conf")
        #expect(configuration.socketPath == "/run/parley/hall.sock")
        #expect(configuration.stateDirectory == "/var/lib/parley-hall")
        #expect(configuration.bindAddress == .anyV4)
        #expect(configuration.port == 47_010)
        #expect(configuration.advertisedAddresses == [IPAddress("192.0.2.7"), IPAddress("2001:db8::7")].compactMap { $0 })
        #expect(configuration.autoAnswer)
        #expect(configuration.video == VideoSettings(width: 1_280, height: 720, frameRate: 15, maximumBitrate: 1_500_000))
    }

    @Test(
        "A bad line is refused with its file, line number and reason",
        arguments: [
            ("port = 70000", "x.conf:2: port: must be 0-65535, got 70000"),
            ("colour = blue", "x.conf:2: colour: unknown setting"),
            ("just words", "x.conf:2: expected `key = value`, got `just words`"),
            ("video-size = 641x480", "x.conf:2: video-size: must be even, 16-3840, got 641"),
            ("bind = localhost", "x.conf:2: bind: not an IP address: localhost"),
            ("auto-answer = maybe", "x.conf:2: auto-answer: must be true or false, got maybe"),
        ])
    func badLinesAreRefusedWithTheirLine(line: String, message: String) {
        var configuration = EngineConfiguration()
        do {
            try configuration.apply(configurationFile: "# first\n\(line)\n", name: "x.conf")
            Issue.record("\(line) was accepted")
        } catch {
            #expect(error.description.hasPrefix(message), "got \(error.description)")
        }
    }
}
