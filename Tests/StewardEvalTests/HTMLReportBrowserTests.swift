import Foundation
import StewardTesting
import Testing

@testable import StewardEval

/// Debian's `chromium`, installed by scripts/setup.sh. When missing, the test tries to install
/// it (as root); it is skipped, with the reason, only if that fails.
enum HeadlessChromium {
    static let path = "/usr/bin/chromium"

    static let availability: (available: Bool, reason: String) = {
        if FileManager.default.isExecutableFile(atPath: path) { return (true, "") }
        guard getuid() == 0 else {
            return (false, "chromium is not installed and this user cannot install it: run scripts/setup.sh as root")
        }
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let ending: ChildProcess.Ending
        do {
            ending = try ChildProcess.run("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"])
        } catch {
            return (false, "chromium is not installed and apt-get could not run: \(error)")
        }
        return FileManager.default.isExecutableFile(atPath: path)
            ? (true, "")
            : (false, "chromium is not installed and apt-get install failed (exit \(ending.status))")
    }()

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs headless Chromium on `page` with `arguments`, its own profile under `directory`,
    /// standard output into `output` (when given); kills it after `limit`.
    /// - Throws: `Failure` when it cannot start, exits non-zero or outlives the limit.
    static func run(_ arguments: [String], page: URL, in directory: URL, output: URL? = nil, limit: Duration = .seconds(90)) async throws {
        let profile = directory.appendingPathComponent("profile-\(UUID().uuidString)")
        if let output { _ = FileManager.default.createFile(atPath: output.path, contents: nil) }
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let process = try ChildProcess.start(
            path, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile.path)"] + arguments + [page.absoluteString],
            stdout: output?.path)
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        // Chromium is an external process: poll for its exit rather than block a test thread.
        var ending = process.poll()
        while ending == nil {
            if clock.now > deadline {
                process.kill()
                _ = process.wait()
                throw Failure(description: "chromium \(arguments.joined(separator: " ")) did not finish within \(limit)")
            }
            try await Task.sleep(for: .milliseconds(100))
            ending = process.poll()
        }
        guard let ending, ending.status == 0, ending.signal == nil else {
            throw Failure(description: "chromium \(arguments.joined(separator: " ")) ended with \(String(describing: ending))")
        }
    }

    /// Decodes an 8-bit RGB or RGBA PNG (IDAT inflated with zlib, every row unfiltered) and
    /// prints "width height distinct-colours pixels-unlike-the-top-left-one".
    static let pngCensus = #"""
        import sys, zlib, struct
        data = open(sys.argv[1], 'rb').read()
        assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
        pos, idat = 8, b''
        while pos < len(data):
            length, kind = struct.unpack('>I4s', data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            if kind == b'IHDR':
                width, height, depth, colour = struct.unpack('>IIBB', body[:10])
            elif kind == b'IDAT':
                idat += body
            pos += 12 + length
        assert depth == 8 and colour in (2, 6), 'unexpected PNG format'
        bpp = 3 if colour == 2 else 4
        raw, stride = zlib.decompress(idat), width * bpp
        previous, colours, background, other = bytearray(stride), set(), None, 0
        for y in range(height):
            start = y * (stride + 1)
            kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                if kind == 1: row[i] = (row[i] + a) & 255
                elif kind == 2: row[i] = (row[i] + b) & 255
                elif kind == 3: row[i] = (row[i] + (a + b) // 2) & 255
                elif kind == 4:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            for x in range(0, stride, bpp):
                pixel = bytes(row[x:x + 3])
                if background is None: background = pixel
                colours.add(pixel)
                if pixel != background: other += 1
            previous = row
        print(width, height, len(colours), other)
        """#

    /// `pngCensus` of the PNG at `path` by /usr/bin/python3 (nil: no python3 there).
    static func census(_ path: URL) throws -> (width: Int, height: Int, colours: Int, nonBackground: Int)? {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        let out = path.deletingLastPathComponent().appendingPathComponent("census-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: out) }
        let ending = try ChildProcess.run(python, ["-c", pngCensus, path.path], stdout: out.path)
        let data = FileManager.default.contents(atPath: out.path) ?? Data()
        let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard ending.status == 0, fields.count == 4 else {
            throw Failure(description: "the PNG census failed (\(ending)): \(String(decoding: data, as: UTF8.self))")
        }
        return (fields[0], fields[1], fields[2], fields[3])
    }
}

/// The report in a real browser: headless Chromium renders it to a screenshot that is not
/// blank and to a DOM that holds the run's key numbers. Set STEWARD_KEEP_REPORT=1 to keep the
/// temporary directory (its path is printed) and look at the screenshot.
@Suite struct HTMLReportBrowserTests {
    @Test(.enabled(if: HeadlessChromium.availability.available, "\(HeadlessChromium.availability.reason)"), .timeLimit(.minutes(3)))
    func chromiumRendersTheReport() async throws {
        let run = ReportFixture.report()
        let html = HTMLReport.render(run, history: ReportFixture.history(of: run), rubric: ReportFixture.rubric)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steward-html-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer {
            if ProcessInfo.processInfo.environment["STEWARD_KEEP_REPORT"] == nil {
                try? FileManager.default.removeItem(at: directory)
            } else {
                print("HTML report kept in \(directory.path)")
            }
        }
        let page = directory.appendingPathComponent("report.html")
        try Data(html.utf8).write(to: page)
        let blank = directory.appendingPathComponent("blank.html")
        try Data("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>blank</title></head><body></body></html>".utf8).write(to: blank)

        let screenshot = directory.appendingPathComponent("report.png")
        try await HeadlessChromium.run(["--screenshot=\(screenshot.path)", "--window-size=1280,2400"], page: page, in: directory)
        let blankShot = directory.appendingPathComponent("blank.png")
        try await HeadlessChromium.run(["--screenshot=\(blankShot.path)", "--window-size=1280,2400"], page: blank, in: directory)
        let dom = directory.appendingPathComponent("dom.html")
        try await HeadlessChromium.run(["--dump-dom"], page: page, in: directory, output: dom)

        // The DOM Chromium built holds the key numbers and every chart as SVG.
        let rendered = try String(contentsOf: dom, encoding: .utf8)
        for text in [
            "bank-triage@1.4.0", run.passed ? "PASSED" : "FAILED", "#42", ReportFixture.figure(run, "intent_accuracy"),
            ReportFixture.figure(run, "intent_ece"), ReportFixture.figure(run, "review_rate"), "16.0 cases/s", "(other labels)",
            "this run reviewed", "&lt;script&gt;",
        ] {
            #expect(rendered.contains(text), "the rendered DOM lacks \(text)")
        }
        #expect(rendered.components(separatedBy: "<svg").count - 1 == run.metrics.count + 2)
        #expect(rendered.components(separatedBy: "<polyline").count - 1 >= run.metrics.count + 1)
        #expect(!rendered.contains("<script"))

        // The screenshot exists and is not blank: far larger than a blank page's, and decoded, with
        // many colours and a good share of pixels unlike the background.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: screenshot.path)[.size] as? Int)
        let blankSize = try #require(try FileManager.default.attributesOfItem(atPath: blankShot.path)[.size] as? Int)
        #expect(size > 3 * blankSize, "the report's screenshot (\(size) bytes) is not much larger than a blank page's (\(blankSize) bytes)")
        if let census = try HeadlessChromium.census(screenshot) {
            #expect(census.width == 1280 && census.height == 2400)
            #expect(census.colours > 64, "only \(census.colours) colours in the screenshot")
            #expect(Double(census.nonBackground) / Double(census.width * census.height) > 0.03, "only \(census.nonBackground) pixels drawn")
        }
    }
}
