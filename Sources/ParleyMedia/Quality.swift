internal import Foundation

/// Objective quality measures for comparing decoded media with its source.
public enum MediaQuality {
    /// Peak signal-to-noise ratio in dB of `plane` of `decoded` against `reference` (peak 255).
    ///
    /// Identical planes give `.infinity`. Both frames must have the same size; otherwise `nil`.
    public static func psnr(_ decoded: VideoFrame, reference: VideoFrame, plane: VideoPlane = .y) -> Double? {
        guard decoded.width == reference.width, decoded.height == reference.height else { return nil }
        let width = decoded.width(of: plane)
        let height = decoded.height(of: plane)
        let decodedStride = decoded.stride(of: plane)
        let referenceStride = reference.stride(of: plane)
        let squaredError = decoded.withPlane(plane) { a in
            reference.withPlane(plane) { b in
                var sum = 0
                for row in 0..<height {
                    let rowA = a.baseAddress! + row * decodedStride
                    let rowB = b.baseAddress! + row * referenceStride
                    for column in 0..<width {
                        let difference = Int(rowA[column]) - Int(rowB[column])
                        sum += difference * difference
                    }
                }
                return sum
            }
        }
        guard squaredError > 0 else { return .infinity }
        let meanSquaredError = Double(squaredError) / Double(width * height)
        return 10 * log10(255 * 255 / meanSquaredError)
    }

    /// Pearson correlation of `signal` with `reference`, comparing `signal[i + lag]` with `reference[i]`
    /// over the samples both have; `nil` if they overlap by fewer than two samples or one is constant.
    public static func correlation(_ signal: [Int16], reference: [Int16], lag: Int) -> Double? {
        let start = max(0, -lag)
        let end = min(reference.count, signal.count - lag)
        guard end - start >= 2 else { return nil }
        var sumA = 0.0, sumB = 0.0, sumAA = 0.0, sumBB = 0.0, sumAB = 0.0
        for index in start..<end {
            let a = Double(reference[index])
            let b = Double(signal[index + lag])
            sumA += a
            sumB += b
            sumAA += a * a
            sumBB += b * b
            sumAB += a * b
        }
        let count = Double(end - start)
        let covariance = sumAB - sumA * sumB / count
        let varianceA = sumAA - sumA * sumA / count
        let varianceB = sumBB - sumB * sumB / count
        guard varianceA > 0, varianceB > 0 else { return nil }
        return covariance / (varianceA * varianceB).squareRoot()
    }

    /// Energy (sum of squares) of `signal[i] − reference[i]` over `range`, for comparing reconstructions.
    public static func errorEnergy(_ signal: [Int16], reference: [Int16], range: Range<Int>) -> Double {
        var sum = 0.0
        for index in range where index >= 0 && index < signal.count && index < reference.count {
            let difference = Double(signal[index]) - Double(reference[index])
            sum += difference * difference
        }
        return sum
    }
}
