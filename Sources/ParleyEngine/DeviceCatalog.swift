/// A source or sink a call can use.
public struct Device: Sendable, Equatable {
    /// Audio or video.
    public enum Kind: String, Sendable {
        case audio, video
    }

    /// The id `Devices/Select` takes.
    public var id: String
    /// Audio or video.
    public var kind: Kind
    /// A name for people.
    public var name: String
    /// Whether the engine makes (or consumes) the media itself rather than a device.
    public var isSynthetic: Bool
}

/// The devices an engine offers: the synthetic sources and the analysis sinks, always; PulseAudio
/// sources and sinks (`pulse:<name>`) while a PulseAudio server answers; V4L2 cameras (`v4l2:<path>`).
public enum DeviceCatalog {
    /// The prefix of PulseAudio device ids.
    public static let pulsePrefix = "pulse:"
    /// The prefix of V4L2 camera ids.
    public static let v4l2Prefix = "v4l2:"

    /// The synthetic microphone's id.
    public static let syntheticMicrophone = "synthetic-microphone"
    /// The synthetic camera's id.
    public static let syntheticCamera = "synthetic-camera"
    /// The analysis audio sink's id.
    public static let analysisAudio = "analysis-audio"
    /// The analysis video sink's id.
    public static let analysisVideo = "analysis-video"

    /// Every source.
    public static let sources = [
        Device(
            id: syntheticCamera, kind: .video,
            name: "Synthetic camera (moving test pattern, stamped with frame number and capture instant)", isSynthetic: true),
        Device(
            id: syntheticMicrophone, kind: .audio,
            name: "Synthetic microphone (voice-like signal, marker chirp every 500 ms)", isSynthetic: true),
    ]

    /// Every sink.
    public static let sinks = [
        Device(id: analysisAudio, kind: .audio, name: "Analysis (plays out, counts markers, discards)", isSynthetic: true),
        Device(id: analysisVideo, kind: .video, name: "Analysis (decodes, reads stamps, discards)", isSynthetic: true),
    ]
}

/// What a call's audio comes from and goes to, resolved from the selected device ids.
enum AudioEndpoint: Equatable, Sendable {
    /// The synthetic microphone (as a source) or the analysis sink.
    case builtIn
    /// A PulseAudio source or sink by name.
    case pulse(String)

    init(id: String) {
        self = id.hasPrefix(DeviceCatalog.pulsePrefix) ? .pulse(String(id.dropFirst(DeviceCatalog.pulsePrefix.count))) : .builtIn
    }
}
