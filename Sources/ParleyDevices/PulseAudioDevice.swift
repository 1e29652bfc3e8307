/// A PulseAudio source (something to record from) or sink (something to play into).
public struct PulseAudioDevice: Sendable, Hashable, CustomStringConvertible {
    /// Which way audio flows through the device.
    public enum Kind: String, Sendable, Hashable {
        /// A source: microphones, line inputs, and the monitor of every sink.
        case source
        /// A sink: speakers, headphones, null sinks.
        case sink
    }

    /// Source or sink.
    public var kind: Kind
    /// The name streams connect to (`alsa_input.usb-…`, `parley_test`, `parley_test.monitor`).
    public var name: String
    /// The human-readable description (`Built-in Audio Analog Stereo`, `Monitor of Null Output`).
    public var description: String
    /// For a monitor source, the sink whose output it records.
    public var monitorOf: String?
    /// The device's own sample rate, in Hz.
    public var sampleRate: Int
    /// The device's own channel count.
    public var channelCount: Int

    /// A device as libpulse describes it.
    public init(
        kind: Kind, name: String, description: String, monitorOf: String? = nil, sampleRate: Int, channelCount: Int
    ) {
        self.kind = kind
        self.name = name
        self.description = description
        self.monitorOf = monitorOf
        self.sampleRate = sampleRate
        self.channelCount = channelCount
    }

    /// True for the monitor source of a sink.
    public var isMonitor: Bool { monitorOf != nil }
}

/// What a `PulseAudioConnection` reports as it happens.
public enum PulseAudioConnectionEvent: Sendable, Equatable {
    /// A source or sink appeared (a USB headset plugged in, a module loaded).
    case deviceAdded(PulseAudioDevice)
    /// A source or sink went away.
    case deviceRemoved(PulseAudioDevice)
    /// The server connection broke (the daemon exited or crashed); reconnection has begun, and the
    /// connection's sources and sinks are interrupted until it succeeds.
    case connectionLost(reason: String)
    /// The connection is back, `downtime` after it was lost; sources and sinks resume on their own.
    case reconnected(downtime: Duration)
}

/// What a `PulseAudioSource` or `PulseAudioSink` reports as it happens.
public enum PulseAudioStreamEvent: Sendable, Equatable {
    /// The stream is connected and running on `device` (first at start, again after every resumption or
    /// move to another device).
    case started(device: String)
    /// The server connection broke; the stream waits for it to come back.
    case interrupted(reason: String)
    /// The stream runs again after an interruption that lasted `downtime`.
    case resumed(downtime: Duration)
    /// A playback stream ran dry (the server had nothing to play): `total` underruns so far.
    case underrun(total: Int)
    /// Audio was lost between the server and Parley: for capture, a hole in the recorded data (filled
    /// with silence so the sample clock stays whole); for playback, data the server had no room for.
    case overrun(total: Int)
    /// The stream ended for good (the device vanished, or the stream could not be re-created).
    case ended(DeviceError)
}
