/// What went wrong in the media layer: codecs, frames and sources.
///
/// The control edge maps these to status codes: `invalidArgument` to `INVALID_ARGUMENT`,
/// codec failures to `INTERNAL` (encoder) or count them as dropped input (decoder).
public enum MediaError: Error, Equatable, Sendable {
    /// A configuration or argument was out of range; `field` names it, `reason` says why.
    case invalidArgument(field: String, reason: String)
    /// libopus returned an error code (negative `OPUS_*` value) from `operation`.
    case opus(operation: String, code: Int32, message: String)
    /// libvpx returned an error from `operation`; `detail` is libvpx's own error detail, if any.
    case vpx(operation: String, code: Int32, message: String, detail: String)
    /// The decoder could not decode the input: it is corrupt, truncated, or needs a key frame first.
    case corruptInput(codec: String, detail: String)
}
