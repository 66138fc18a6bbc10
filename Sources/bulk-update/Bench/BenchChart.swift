import Foundation

/// A self-contained SVG bar chart of a bench run: one horizontal bar per configuration (the median, with a min–max
/// whisker), the floors drawn as labelled vertical lines across all bars.
struct BenchChart {
    let report: BenchReport

    // Layout, in pixels.
    private let width = 980.0
    /// The right edge of the configuration labels: wide enough for the longest one.
    private var labelWidth: Double {
        let widest =
            self.report.results.map { result in
                max(Double(result.title.count) * 6.9, Double(result.note?.count ?? 0) * 6.3)
            }.max() ?? 200
        return min(440, max(200, widest + 16))
    }
    private let valueWidth = 150.0
    private let rowHeight = 38.0
    private let barHeight = 18.0
    private let top = 64.0
    private let floorLabelHeight = 18.0
    private let bottom = 56.0

    private var plotLeft: Double { self.labelWidth + 12 }
    private var plotRight: Double { self.width - self.valueWidth }

    var svg: String {
        let results = self.report.results
        let timed = results.compactMap { $0.maxSeconds }
        let axis = Self.axis(upTo: timed.max() ?? 1)
        let floors = results.filter { $0.kind != "bulkUpdate" && $0.medianSeconds != nil }
        let plotTop = self.top + Double(floors.count) * self.floorLabelHeight + 8
        let plotBottom = plotTop + Double(results.count) * self.rowHeight
        let height = plotBottom + self.bottom
        let x = { (seconds: Double) in self.plotLeft + seconds / axis.maximum * (self.plotRight - self.plotLeft) }

        var svg: [String] = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.n(self.width))\" height=\"\(Self.n(height))\""
                + " viewBox=\"0 0 \(Self.n(self.width)) \(Self.n(height))\" font-family=\"Helvetica, Arial, sans-serif\""
                + " font-size=\"12\">",
            "<title>\(Self.escape(self.title))</title>",
            "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>",
            self.text(self.title, x: 16, y: 26, size: 16, weight: "bold"),
            self.text(self.subtitle, x: 16, y: 46, fill: "#555555"),
        ]

        // Row stripes, then grid and axis.
        for index in results.indices where index % 2 == 1 {
            svg.append(
                "<rect x=\"0\" y=\"\(Self.n(plotTop + Double(index) * self.rowHeight))\" width=\"\(Self.n(self.width))\""
                    + " height=\"\(Self.n(self.rowHeight))\" fill=\"#f5f5f5\"/>"
            )
        }
        for tick in axis.ticks {
            let position = x(tick)
            svg.append(
                self.line(x1: position, y1: plotTop, x2: position, y2: plotBottom, stroke: "#e4e4e4")
            )
            svg.append(
                self.text(
                    Self.tickLabel(tick, step: axis.step),
                    x: position,
                    y: plotBottom + 16,
                    anchor: "middle",
                    fill: "#555555"
                )
            )
        }
        svg.append(self.line(x1: self.plotLeft, y1: plotBottom, x2: self.plotRight, y2: plotBottom, stroke: "#888888"))
        svg.append(
            self.text(
                self.report.repeat == 1
                    ? "seconds (1 run each; shorter is faster)"
                    : "seconds (median of \(self.report.repeat) runs, whiskers min–max; shorter is faster)",
                x: (self.plotLeft + self.plotRight) / 2,
                y: plotBottom + 36,
                anchor: "middle",
                fill: "#333333"
            )
        )

        // Bars; their value labels are kept for the end.
        var values: [String] = []
        for (index, result) in results.enumerated() {
            let rowTop = plotTop + Double(index) * self.rowHeight
            let middle = rowTop + self.rowHeight / 2
            if let note = result.note {
                svg.append(self.text(result.title, x: self.labelWidth, y: middle - 2, anchor: "end"))
                svg.append(
                    self.text(
                        note,
                        x: self.labelWidth,
                        y: middle + 12,
                        anchor: "end",
                        size: 11,
                        fill: "#666666"
                    )
                )
            } else {
                svg.append(self.text(result.title, x: self.labelWidth, y: middle + 4, anchor: "end"))
            }
            guard let median = result.medianSeconds, let low = result.minSeconds, let high = result.maxSeconds else {
                let reason = result.failure.map { "failed: " + Self.shorten($0, to: 70) } ?? "not run"
                svg.append(self.text(reason, x: self.plotLeft + 4, y: middle + 4, fill: "#c62828"))
                continue
            }
            let barTop = middle - self.barHeight / 2
            svg.append(
                "<rect x=\"\(Self.n(self.plotLeft))\" y=\"\(Self.n(barTop))\" width=\"\(Self.n(max(1, x(median) - self.plotLeft)))\""
                    + " height=\"\(Self.n(self.barHeight))\" fill=\"\(Self.color(result))\"><title>"
                    + Self.escape("\(result.label): median \(BenchReport.seconds(median)) s")
                    + "</title></rect>"
            )
            if high > low {
                let whiskerTop = middle - 5
                let whiskerBottom = middle + 5
                svg.append(self.line(x1: x(low), y1: middle, x2: x(high), y2: middle, stroke: "#222222"))
                svg.append(self.line(x1: x(low), y1: whiskerTop, x2: x(low), y2: whiskerBottom, stroke: "#222222"))
                svg.append(self.line(x1: x(high), y1: whiskerTop, x2: x(high), y2: whiskerBottom, stroke: "#222222"))
            }
            var value = BenchReport.seconds(median) + " s"
            if let ratio = result.ratioToFloor, result.kind != "floor" {
                value += String(format: " · %.2f× floor", ratio)
            }
            // Drawn last, over the floor lines, with a white halo so a line crossing it does not hide it.
            let background = index % 2 == 1 ? "#f5f5f5" : "#ffffff"
            values.append(
                self.text(value, x: max(x(high), x(median)) + 6, y: middle + 4, fill: "#222222", halo: background)
            )
        }

        // Floors: a dashed line over every bar, labelled above the plot, one label row each.
        for (index, floor) in floors.enumerated() {
            guard let median = floor.medianSeconds else { continue }
            let position = x(median)
            let labelY = self.top + Double(index + 1) * self.floorLabelHeight - 4
            let color = floor.kind == "floor" ? "#c62828" : "#6a1b9a"
            let name =
                floor.kind == "floor" ? "floor, 1 statement" : "parallel floor, \(floor.workers) statements"
            svg.append(
                self.line(
                    x1: position,
                    y1: labelY + 4,
                    x2: position,
                    y2: plotBottom,
                    stroke: color,
                    width: 1.5,
                    dash: "5,3"
                )
            )
            let label = "\(name): \(BenchReport.seconds(median)) s"
            let anchor = position > (self.plotLeft + self.plotRight) / 2 ? "end" : "start"
            svg.append(
                self.text(
                    label,
                    x: position + (anchor == "start" ? 4 : -4),
                    y: labelY,
                    anchor: anchor,
                    size: 11,
                    weight: "bold",
                    fill: color
                )
            )
        }
        svg += values
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    private var title: String {
        // `15.18 (Debian 15.18-0+deb12u1)` → `15.18`; the JSON keeps the whole version.
        "Users scenario: \(Self.grouped(self.report.rows)) rows on \(self.report.database.product) "
            + (self.report.database.version.split(separator: " ").first.map(String.init) ?? "")
    }

    private var subtitle: String {
        let cores = self.report.machine.activeProcessorCount
        let date = self.report.date.prefix(10)
        let runs =
            self.report.repeat == 1
            ? "1 run per configuration" : "median of \(self.report.repeat) interleaved runs per configuration"
        return "bulk-update bench: upper-case every username; \(runs); \(cores) core\(cores == 1 ? "" : "s"); \(date)"
    }

    /// The bar colour: grey for floors, orange for the caseWhen (Django) baselines, one colour per strategy.
    private static func color(_ result: BenchReport.Result) -> String {
        switch result.strategy {
        case nil: "#9e9e9e"
        case "caseWhen": "#ef8a3c"
        case "unnest": "#2f6db5"
        case "values": "#3a9e8f"
        case "copy": "#7b4fb5"
        case "tempTable": "#6b9e2f"
        default: "#607d8b"
        }
    }

    /// A scale from 0 to a round maximum at or above `value`, with 5 to 9 ticks of 1, 2 or 5 × 10^k.
    static func axis(upTo value: Double) -> (maximum: Double, step: Double, ticks: [Double]) {
        let value = value > 0 && value.isFinite ? value : 1
        let rough = value / 8
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let count = Int((value / step).rounded(.up))
        let maximum = Double(max(count, 1)) * step
        return (maximum, step, (0...max(count, 1)).map { Double($0) * step })
    }

    private static func tickLabel(_ value: Double, step: Double) -> String {
        let decimals = step >= 1 ? 0 : Int((-log10(step)).rounded(.up))
        return String(format: "%.\(decimals)f", value)
    }

    private func text(
        _ content: String,
        x: Double,
        y: Double,
        anchor: String = "start",
        size: Double = 12,
        weight: String? = nil,
        fill: String = "#111111",
        halo: String? = nil
    ) -> String {
        var attributes = "x=\"\(Self.n(x))\" y=\"\(Self.n(y))\""
        if anchor != "start" { attributes += " text-anchor=\"\(anchor)\"" }
        if size != 12 { attributes += " font-size=\"\(Self.n(size))\"" }
        if let weight { attributes += " font-weight=\"\(weight)\"" }
        if let halo {
            attributes += " stroke=\"\(halo)\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\""
        }
        attributes += " fill=\"\(fill)\""
        return "<text \(attributes)>\(Self.escape(content))</text>"
    }

    private func line(
        x1: Double,
        y1: Double,
        x2: Double,
        y2: Double,
        stroke: String,
        width: Double = 1,
        dash: String? = nil
    ) -> String {
        "<line x1=\"\(Self.n(x1))\" y1=\"\(Self.n(y1))\" x2=\"\(Self.n(x2))\" y2=\"\(Self.n(y2))\""
            + " stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\""
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
    }

    /// A coordinate with at most one decimal.
    private static func n(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static func shorten(_ text: String, to length: Int) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count <= length ? line : String(line.prefix(length - 1)) + "…"
    }

    private static func grouped(_ number: Int) -> String {
        let digits = Array(String(number))
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return result
    }
}
