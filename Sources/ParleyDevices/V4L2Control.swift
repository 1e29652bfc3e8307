internal import CParleyShims
internal import CV4L2
internal import Glibc

/// A control a V4L2 device offers (brightness, exposure, a test driver's switches …).
public struct V4L2Control: Hashable, Sendable, CustomStringConvertible {
    /// The control's id (`V4L2_CID_*`, or a driver's own).
    public var id: UInt32
    /// The driver's name for it, e.g. `Brightness` or (vivid) `Test Pattern`, `Disconnect`.
    public var name: String
    /// The raw `v4l2_ctrl_type` (1 integer, 2 boolean, 3 menu, 4 button, …).
    public var type: UInt32
    /// Smallest value.
    public var minimum: Int64
    /// Largest value.
    public var maximum: Int64
    /// Step between values.
    public var step: Int64
    /// Value after reset.
    public var defaultValue: Int64

    /// Whether the control is a button (setting any value triggers an action).
    public var isButton: Bool { type == V4L2_CTRL_TYPE_BUTTON.rawValue }

    public var description: String { "\(name) (0x\(String(id, radix: 16)), \(minimum)…\(maximum))" }
}

extension V4L2Devices {
    /// The controls of the device at `path`.
    ///
    /// - Throws: `DeviceError` if the device cannot be opened or queried.
    public static func controls(_ path: String) throws(DeviceError) -> [V4L2Control] {
        let descriptor = try open(path)
        defer { _ = v4l2_close(descriptor) }
        return try controls(descriptor, path: path)
    }

    /// Sets control `id` of the device at `path` to `value` (controls keep their values between opens).
    ///
    /// - Throws: `DeviceError` if the device cannot be opened or the driver refuses the value.
    public static func setControl(_ id: UInt32, to value: Int32, path: String) throws(DeviceError) {
        let descriptor = try open(path)
        defer { _ = v4l2_close(descriptor) }
        try setControl(id, to: value, descriptor: descriptor, path: path)
    }

    /// The value of control `id` of the device at `path`.
    public static func control(_ id: UInt32, path: String) throws(DeviceError) -> Int32 {
        let descriptor = try open(path)
        defer { _ = v4l2_close(descriptor) }
        return try control(id, descriptor: descriptor, path: path)
    }

    static func controls(_ descriptor: Int32, path: String) throws(DeviceError) -> [V4L2Control] {
        var result: [V4L2Control] = []
        var id = UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
        while true {
            var query = v4l2_queryctrl()
            query.id = id
            if let code = V4L2Ioctl.call(descriptor, V4L2Ioctl.queryControl, &query) {
                if code == EINVAL { break }  // past the last control
                throw V4L2Ioctl.error("VIDIOC_QUERYCTRL", code, device: path)
            }
            id = query.id | UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
            if query.flags & UInt32(V4L2_CTRL_FLAG_DISABLED) != 0
                || query.type == V4L2_CTRL_TYPE_CTRL_CLASS.rawValue
            {
                continue
            }
            result.append(
                V4L2Control(
                    id: query.id, name: V4L2Ioctl.string(query.name), type: query.type,
                    minimum: Int64(query.minimum), maximum: Int64(query.maximum), step: Int64(query.step),
                    defaultValue: Int64(query.default_value)))
        }
        return result
    }

    static func setControl(_ id: UInt32, to value: Int32, descriptor: Int32, path: String) throws(DeviceError) {
        var control = v4l2_control(id: id, value: value)
        try V4L2Ioctl.perform("VIDIOC_S_CTRL", descriptor, V4L2Ioctl.setControl, &control, device: path)
    }

    static func control(_ id: UInt32, descriptor: Int32, path: String) throws(DeviceError) -> Int32 {
        var control = v4l2_control(id: id, value: 0)
        try V4L2Ioctl.perform("VIDIOC_G_CTRL", descriptor, V4L2Ioctl.getControl, &control, device: path)
        return control.value
    }
}
