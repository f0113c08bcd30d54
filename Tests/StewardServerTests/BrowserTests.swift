import Foundation
import StewardMigration
import StewardTemplates
import StewardEngine
import StewardJSON
import StewardTesting
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Debian's `chromium` and `chromium-driver`, installed by scripts/setup.sh. When missing, the
/// test tries to install them (as root); it is skipped, with the reason, only if that fails.
enum Browser {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    static let availability: (available: Bool, reason: String) = {
        func present() -> Bool {
            FileManager.default.isExecutableFile(atPath: chromium) && FileManager.default.isExecutableFile(atPath: chromedriver)
        }
        if present() { return (true, "") }
        guard getuid() == 0 else {
            return (false, "chromium and chromium-driver are not installed and this user cannot install them: run scripts/setup.sh as root")
        }
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let ending: ChildProcess.Ending
        do {
            ending = try ChildProcess.run("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver"])
        } catch {
            return (false, "chromium and chromium-driver are not installed and apt-get could not run: \(error)")
        }
        return present()
            ? (true, "")
            : (false, "chromium and chromium-driver are not installed and apt-get install failed (exit \(ending.status))")
    }()
}

/// HTTP/1.1 over a loopback socket, for chromedriver: it writes headers as `Name:value`
/// (no space), which FoundationNetworking's URLSession rejects ("Failed writing header").
/// Blocking I/O runs on its own thread, off the concurrency pool the server needs.
enum PlainHTTP {
    static func send(_ method: String, _ url: URL, body: Data?) async throws -> (Int, Data) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try exchange(method, url, body: body) })
            }
        }
    }

    static func exchange(_ method: String, _ url: URL, body: Data?) throws -> (Int, Data) {
        guard let port = url.port else { throw WebDriver.Failure(description: "no port in \(url)") }
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw WebDriver.Failure(description: "cannot connect to \(url)") }
        let target = url.path.isEmpty ? "/" : url.path
        var request = Data("\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n".utf8)
        if let body {
            request.append(Data("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n".utf8))
        }
        request.append(Data("\r\n".utf8))
        if let body { request.append(body) }
        try request.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.send(socket, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                guard written > 0 else { throw WebDriver.Failure(description: "cannot write to \(url)") }
                offset += written
            }
        }
        // A receive that waits more than 90 s fails instead of hanging the test.
        var timeout = timeval(tv_sec: 90, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Read until the body is complete: chromedriver may keep the connection open.
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !complete(response) {
            let count = recv(socket, &chunk, chunk.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        guard let split = response.range(of: Data("\r\n\r\n".utf8)) else {
            throw WebDriver.Failure(description: "no HTTP response from \(url)")
        }
        let head = String(decoding: response[..<split.lowerBound], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw WebDriver.Failure(description: "bad status line '\(statusLine)'") }
        let isChunked = head.lowercased().contains("transfer-encoding:chunked") || head.lowercased().contains("transfer-encoding: chunked")
        let payload = Data(response[split.upperBound...])
        return (status, isChunked ? dechunk(payload) : payload)
    }

    /// Whether `response` holds the whole message (by Content-Length, or the last chunk).
    static func complete(_ response: Data) -> Bool {
        guard let split = response.range(of: Data("\r\n\r\n".utf8)) else { return false }
        let head = String(decoding: response[..<split.lowerBound], as: UTF8.self).lowercased()
        let bodyCount = response.count - split.upperBound
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            return bodyCount >= Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        if head.contains("chunked") { return response.suffix(5) == Data("0\r\n\r\n".utf8) }
        return false
    }

    static func dechunk(_ data: Data) -> Data {
        var output = Data()
        var rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd.upperBound
            output.append(rest[start..<(start + size)])
            rest = rest[(start + size + 2)...]
        }
        return output
    }
}

/// A WebDriver session: plain JSON over HTTP to chromedriver (W3C WebDriver protocol).
struct WebDriver {
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"
    let base: URL
    let session: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func call(_ method: String, _ url: URL, _ body: JSONValue? = nil) async throws -> JSONValue {
        let (status, data) = try await PlainHTTP.send(method, url, body: body.map { Data($0.jsonBytes) })
        let value = try JSONValue.parse(Array(data))["value"] ?? .null
        if status != 200 {
            throw Failure(description: "WebDriver \(method) \(url.path): \(value["message"]?.stringValue ?? value.jsonString)")
        }
        return value
    }

    /// Opens a headless Chromium session.
    static func open(driver: URL, profile: URL) async throws -> WebDriver {
        let capabilities: JSONValue = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": .string(Browser.chromium),
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100",
                            .string("--user-data-dir=\(profile.path)"),
                        ],
                    ],
                ]
            ]
        ]
        let value = try await call("POST", driver.appendingPathComponent("session"), capabilities)
        guard let id = value["sessionId"]?.stringValue else { throw Failure(description: "no session id in \(value.jsonString)") }
        return WebDriver(base: driver.appendingPathComponent("session/\(id)"), session: id)
    }

    func send(_ method: String, _ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        try await Self.call(method, path.isEmpty ? base : base.appendingPathComponent(path), body)
    }

    func go(_ url: URL) async throws { _ = try await send("POST", "url", ["url": .string(url.absoluteString)]) }
    func currentURL() async throws -> String { try await send("GET", "url").stringValue ?? "" }

    /// Waits (up to 30 s) for a navigation a click or key press started to land on a URL
    /// ending in `suffix`; a click may return before the browser has followed the redirect.
    func waitForURL(endingWith suffix: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        var url = try await currentURL()
        while !url.hasSuffix(suffix), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            url = try await currentURL()
        }
        return url
    }
    func source() async throws -> String { try await send("GET", "source").stringValue ?? "" }

    func element(_ css: String) async throws -> String {
        let value = try await send("POST", "element", ["using": "css selector", "value": .string(css)])
        guard let id = value[Self.elementKey]?.stringValue else { throw Failure(description: "no element \(css)") }
        return id
    }

    func type(_ css: String, _ text: String) async throws {
        _ = try await send("POST", "element/\(try await element(css))/value", ["text": .string(text)])
    }

    func clear(_ css: String) async throws { _ = try await send("POST", "element/\(try await element(css))/clear", [:]) }
    func click(_ css: String) async throws { _ = try await send("POST", "element/\(try await element(css))/click", [:]) }
    func property(_ css: String, _ name: String) async throws -> JSONValue {
        try await send("GET", "element/\(try await element(css))/property/\(name)")
    }

    func script(_ source: String) async throws -> JSONValue {
        try await send("POST", "execute/sync", ["script": .string(source), "args": []])
    }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        guard let base64 = try await send("GET", "screenshot").stringValue, let data = Data(base64Encoded: base64) else {
            throw Failure(description: "no screenshot")
        }
        return data
    }

    /// Presses and releases `key` (one character) on whatever has the focus, as a person would.
    func press(_ key: String) async throws {
        _ = try await send("POST", "actions", [
            "actions": [["type": "key", "id": "keyboard", "actions": [["type": "keyDown", "value": .string(key)], ["type": "keyUp", "value": .string(key)]]]]
        ])
    }

    /// Resizes the browser window (the viewport follows).
    func resize(width: Int, height: Int) async throws {
        _ = try await send("POST", "window/rect", ["width": .integer(Int64(width)), "height": .integer(Int64(height))])
    }

    func close() async { _ = try? await send("DELETE", "") }
}

/// The accessibility check list the browser tests run in the page (no axe-core package is
/// available to this build). Documented in Docs/reviewer-guide.md; each rule adds the elements
/// that break it to the returned list, so an empty list is a pass:
/// 1. the document has a `lang`;
/// 2. every visible form control has an accessible name (a `label for`, a wrapping label,
///    `aria-label` or `aria-labelledby` naming existing text); every button and link has text
///    or `aria-label`;
/// 3. every `img` has an `alt`, every `svg role=img` an `aria-label`;
/// 4. one `h1`, and heading levels never skip down (an `h2` is followed by an `h3` at most);
/// 5. no positive `tabindex` (focus order follows the document order);
/// 6. ids are unique (labels and `aria-describedby` point at one element);
/// 7. text contrast is at least 4.5:1 (3:1 for large text: 24 px, or 18.66 px bold) between
///    each visible text's computed colour and the first opaque background behind it.
enum AccessibilityCheck {
    static let script = """
        const problems = [];
        const describe = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '');
        const visible = e => { const s = getComputedStyle(e); const r = e.getBoundingClientRect(); return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0 && !e.closest('details:not([open]) > :not(summary)'); };
        if (!document.documentElement.lang) problems.push('1: the html element has no lang');
        const named = e => {
          if (e.getAttribute('aria-label')) return true;
          const by = e.getAttribute('aria-labelledby');
          if (by && by.split(' ').every(id => document.getElementById(id) && document.getElementById(id).textContent.trim())) return true;
          if (e.id && [...document.querySelectorAll('label')].some(l => l.htmlFor === e.id && l.textContent.trim())) return true;
          return !!(e.closest('label') && e.closest('label').textContent.trim());
        };
        for (const e of document.querySelectorAll('input:not([type=hidden]), textarea, select')) if (!named(e)) problems.push('2: no label: ' + describe(e));
        for (const e of document.querySelectorAll('button, a[href], summary')) if (!e.textContent.trim() && !e.getAttribute('aria-label')) problems.push('2: no text: ' + describe(e));
        for (const e of document.querySelectorAll('img')) if (!e.hasAttribute('alt')) problems.push('3: no alt: ' + describe(e));
        for (const e of document.querySelectorAll('svg[role=img]')) if (!e.getAttribute('aria-label')) problems.push('3: no aria-label: ' + describe(e));
        const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')];
        if (headings.filter(h => h.tagName === 'H1').length !== 1) problems.push('4: not exactly one h1');
        let level = 0;
        for (const h of headings) { const n = +h.tagName[1]; if (n > level + 1) problems.push('4: ' + h.tagName + ' after h' + level + ': ' + h.textContent.trim().slice(0, 40)); level = n; }
        for (const e of document.querySelectorAll('[tabindex]')) if (+e.getAttribute('tabindex') > 0) problems.push('5: positive tabindex: ' + describe(e));
        const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
        for (const id of new Set(ids)) if (ids.filter(x => x === id).length > 1) problems.push('6: duplicate id ' + id);
        const rgba = t => { const m = t.match(/[0-9.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
        const luminance = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const background = e => {
          const layers = [];
          for (let n = e; n && n.nodeType === 1; n = n.parentElement) { const c = rgba(getComputedStyle(n).backgroundColor); if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
          let color = [255, 255, 255];
          for (const c of layers.reverse()) color = color.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
          return color;
        };
        let checked = 0;
        for (const e of document.querySelectorAll('body *')) {
          const text = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
          if (!text || !visible(e) || e.closest('.visually-hidden, .skip')) continue;
          const style = getComputedStyle(e);
          const fg = rgba(style.color), bg = background(e);
          const color = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
          const [a, b] = [luminance(color), luminance(bg)].sort((x, y) => y - x);
          const ratio = (a + 0.05) / (b + 0.05);
          const size = parseFloat(style.fontSize), bold = +style.fontWeight >= 700;
          const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
          checked += 1;
          if (ratio < needed) problems.push('7: contrast ' + ratio.toFixed(2) + ' < ' + needed + ': ' + describe(e) + ' "' + text.slice(0, 30) + '"');
        }
        if (checked === 0) problems.push('7: no text was checked');
        return problems;
        """
}

@Suite struct BrowserTests {
    /// A free loopback port (bound, read, released).
    static func freePort() throws -> Int {
        guard let (socket, port) = Loopback.claim(listening: false) else { throw WebDriver.Failure(description: "cannot find a free port") }
        close(socket)
        return port
    }

    /// Runs `body` with a headless Chromium session driven by a chromedriver of its own; the
    /// session and the driver end on every path.
    static func withBrowser(_ body: (WebDriver) async throws -> Void) async throws {
        let port = try Self.freePort()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("steward-chromium-\(UUID().uuidString)")
        // posix_spawn (ChildProcess), not Foundation's Process: see ChildProcess.
        let driverProcess = try ChildProcess.start(Browser.chromedriver, ["--port=\(port)", "--allowed-ips=127.0.0.1"])
        defer {
            driverProcess.kill()
            _ = driverProcess.wait()
            try? FileManager.default.removeItem(at: profile)
        }
        let driverURL = URL(string: "http://127.0.0.1:\(port)")!
        let deadline = ContinuousClock.now + .seconds(20)
        while await (try? WebDriver.call("GET", driverURL.appendingPathComponent("status")))?["ready"] != true {
            try #require(ContinuousClock.now < deadline, "chromedriver did not become ready")
            try await Task.sleep(for: .milliseconds(100))
        }
        let browser = try await WebDriver.open(driver: driverURL, profile: profile)
        // Chromium outlives a killed chromedriver: end the session on every path.
        do {
            try await body(browser)
        } catch {
            await browser.close()
            throw error
        }
        await browser.close()
    }

    @Test(.enabled(if: Browser.availability.available, "\(Browser.availability.reason)"), .timeLimit(.minutes(3)))
    func reviewerEditsAndApprovesInARealBrowser() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask()
        let edited: JSONValue = ["subject": "Re: My card was stolen", "body": "Hi Jonas, we blocked the card. A replacement arrives in 3 days."]
        try await Self.withBrowser { browser in
            // Sign in with the keyboard: type the token and press Enter.
            try await browser.go(harness.base.appendingPathComponent("review"))
            #expect(try await browser.currentURL().hasSuffix("/review/sign-in"))
            try await browser.type("#token", harness.agentToken + "\u{E007}")
            #expect(try await browser.waitForURL(endingWith: "/review").hasSuffix("/review"))
            let queue = try await browser.source()
            #expect(queue.contains("Ana Agent"))
            #expect(!queue.contains("no deadline"), "the P1 task has its SLA deadline")
            let cookieVisibleToScripts = try await browser.script("return document.cookie")
            #expect(cookieVisibleToScripts == "", "the session cookie is HttpOnly")

            // Open the task, see its context.
            try await browser.click("a[href=\"/review/tasks/\(task)\"]")
            #expect(try await browser.waitForURL(endingWith: "/review/tasks/\(task)").hasSuffix("/review/tasks/\(task)"))
            let page = try await browser.source()
            let taskShot = FileManager.default.temporaryDirectory.appendingPathComponent("steward-review-task-\(task)-\(UUID().uuidString.prefix(8)).png")
            try await browser.screenshot().write(to: taskShot)
            print("screenshot of the task page: \(taskShot.path)")
            #expect(page.contains("Someone stole my wallet"))
            #expect(page.contains("The agent may not"))
            let unlabeled = try await browser.script(
                "return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')].filter(e => !e.id || !document.querySelector('label[for=\"' + e.id + '\"]')).length")
            #expect(unlabeled == 0, "every field has a label")

            // The raw JSON editor is one click away; a broken edit comes back with the error inline and the text kept.
            try await browser.click("#raw-toggle")
            try await browser.clear("#output")
            try await browser.type("#output", "{\"subject\": \"Re: My card was stolen\", \"body\": ")
            try await browser.click("#save-edit")
            #expect(try await browser.waitForURL(endingWith: "/review/tasks/\(task)/decision").hasSuffix("/decision"))
            #expect(try await browser.source().contains("not valid JSON"))
            #expect(try await browser.property("#output", "value") == "{\"subject\": \"Re: My card was stolen\", \"body\": ")

            // The real edit.
            try await browser.clear("#output")
            try await browser.type("#output", edited.prettyJSONString)
            let editShot = FileManager.default.temporaryDirectory.appendingPathComponent("steward-review-edit-\(task)-\(UUID().uuidString.prefix(8)).png")
            try await browser.screenshot().write(to: editShot)
            print("screenshot of the edit, after an inline error: \(editShot.path)")
            try await browser.click("#save-edit")
            let landed = try await browser.waitForURL(endingWith: "/review?decided=\(task)&as=edit")
            #expect(landed.hasSuffix("/review?decided=\(task)&as=edit"), "\(landed)")
            #expect(try await browser.source().contains("Task \(task) edited and approved."))
        }

        // The API shows the instance completed with the reviewer's edit.
        #expect(try await harness.waitFor(instance) { $0 == "completed" } == "completed")
        let shown = try await harness.send("GET", "/v1/instances/\(instance)", token: harness.operatorToken)
        #expect(shown.json["status"] == "completed")
        #expect(shown.json["output"]?["reply"] == edited)
        #expect(shown.json["output"]?["review"]?["decision"] == "edit")
        #expect(shown.json["output"]?["review"]?["reviewer"]?.stringValue == harness.agentID)
        try await harness.stop()
    }

    /// Writes a screenshot as a test artefact and prints where.
    static func keep(_ browser: WebDriver, _ name: String) async throws {
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("steward-\(name)-\(UUID().uuidString.prefix(8)).png")
        try await browser.screenshot().write(to: shot)
        print("screenshot of \(name): \(shot.path)")
    }

    /// Runs the accessibility check list (see `AccessibilityCheck`) on the page shown.
    static func expectAccessible(_ browser: WebDriver, _ page: String) async throws {
        let problems = try await browser.script(AccessibilityCheck.script).arrayValue?.compactMap(\.stringValue)
        #expect(problems == [], "accessibility problems on \(page): \(problems ?? [])")
    }

    /// Nothing sticks out sideways at the window's width.
    static func expectNoHorizontalOverflow(_ browser: WebDriver, _ page: String) async throws {
        let widths = try await browser.script("return [document.documentElement.scrollWidth, window.innerWidth]")
        let scroll = widths.arrayValue?.first?.integerValue ?? 0, inner = widths.arrayValue?.last?.integerValue ?? 0
        #expect(inner > 0 && inner <= 400 && scroll <= inner, "\(page) at phone width: content \(scroll) px wide in a \(inner) px window")
    }

    /// The reviewer desk as a reviewer works it: sign in, filter to P1, claim, edit the reply
    /// through the generated form, approve, next; then the keys, the phone width and the
    /// accessibility check list on the queue and the task page. Prints the clicks, keystrokes
    /// and seconds the session took (printed, not asserted: the machine is shared).
    @Test(.enabled(if: Browser.availability.available, "\(Browser.availability.reason)"), .timeLimit(.minutes(5)))
    func aReviewerWorksTheDeskWithTheFormKeysAndAPhone() async throws {
        let harness = try await ServerHarness.start()
        let (instance, task) = try await harness.waitingTask(key: "first")
        let (_, second) = try await harness.waitingTask(key: "second")
        try await Self.withBrowser { browser in
            var clicks = 0, keystrokes = 0
            func click(_ css: String) async throws {
                clicks += 1
                try await browser.click(css)
            }
            func type(_ css: String, _ text: String) async throws {
                keystrokes += text.count
                try await browser.type(css, text)
            }
            let started = ContinuousClock.now
            try await browser.go(harness.base.appendingPathComponent("review"))
            try await type("#token", harness.agentToken + "\u{E007}")
            #expect(try await browser.waitForURL(endingWith: "/review").hasSuffix("/review"))
            try await click("#filter-priority option[value=P1]")
            try await click("#filter")
            #expect(try await browser.waitForURL(endingWith: "/review?credential=&customer=&priority=P1&template=").contains("priority=P1"))
            let filtered = try await browser.source()
            #expect(filtered.contains("2 open tasks match the filter"), "\(filtered.prefix(3000))")
            try await Self.keep(browser, "desk-queue")
            try await Self.expectAccessible(browser, "the queue")
            try await click("#claim-\(task)")
            #expect(try await browser.waitForURL(endingWith: "/review/tasks/\(task)?claimed=1").hasSuffix("claimed=1"))
            #expect(try await browser.source().contains("You hold this task until "))
            // The body through its text area: real line breaks, not JSON.
            try await browser.clear("#field-1")
            try await type("#field-1", "Hi Jonas,\nWe blocked the card; a new one is on its way.")
            try await Self.keep(browser, "desk-task-edit")
            try await click("#save-fields")
            let landed = try await browser.waitForURL(endingWith: "/review?decided=\(task)&as=edit")
            #expect(landed.hasSuffix("as=edit"), "\(landed)")
            #expect(try await browser.source().contains("Task \(task) edited and approved."))
            keystrokes += 1
            try await browser.press("n")
            #expect(try await browser.waitForURL(endingWith: "/review/tasks/\(second)").hasSuffix("/review/tasks/\(second)"), "n opens the next task")
            let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds)
            let tokenKeys = harness.agentToken.count + 1
            print("reviewer session (sign in, filter to P1, claim, edit the reply in the form, approve, next): \(clicks) clicks, \(keystrokes) keystrokes (\(tokenKeys) of them the token and Enter, \(keystrokes - tokenKeys) after signing in), \(String(format: "%.1f", seconds)) s")

            // The task page: accessible, keys work and stay quiet while typing.
            try await Self.expectAccessible(browser, "the task page")
            try await Self.keep(browser, "desk-task")
            try await browser.press("e")
            #expect(try await browser.script("return document.activeElement.id") == "field-0", "e focuses the edit form's first field")
            try await browser.press("a")
            #expect(try await browser.currentURL().hasSuffix("/review/tasks/\(second)"), "a typed in a field does not approve")
            _ = try await browser.script("document.activeElement.blur(); return true")
            try await browser.press("r")
            #expect(try await browser.script("return document.activeElement.id") == "reason", "r focuses the reason")
            _ = try await browser.script("document.activeElement.blur(); return true")
            try await browser.press("a")
            #expect(try await browser.waitForURL(endingWith: "/review?decided=\(second)&as=approve").hasSuffix("as=approve"), "a approves")

            // Phone width: nothing overflows sideways; the queue and a task still read.
            let (_, third) = try await harness.waitingTask(key: "third")
            try await browser.resize(width: 390, height: 844)
            try await browser.go(harness.base.appendingPathComponent("review"))
            try await Self.expectNoHorizontalOverflow(browser, "the queue")
            try await Self.keep(browser, "desk-queue-phone")
            try await browser.go(harness.base.appendingPathComponent("review/tasks/\(third)"))
            try await Self.expectNoHorizontalOverflow(browser, "the task page")
            try await Self.expectAccessible(browser, "the task page at phone width")
            try await Self.keep(browser, "desk-task-phone")

            // The check list can fail: a page breaking each rule is caught by each.
            let broken = "<html><body><h1>A</h1><h1>B</h1><h4>skip</h4><input id=x><img src=y><button></button>"
                + "<p tabindex=3 id=d>low</p><p id=d style='color:#bbb'>faint text</p></body></html>"
            try await browser.go(URL(string: "data:text/html," + (broken.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))!)
            let found = try await browser.script(AccessibilityCheck.script).arrayValue?.compactMap(\.stringValue) ?? []
            for rule in ["1:", "2: no label", "2: no text", "3:", "4: not exactly one h1", "4: H4 after h1", "5:", "6:", "7: contrast"] {
                #expect(found.contains { $0.hasPrefix(rule) }, "rule \(rule) finds its break: \(found)")
            }
        }
        #expect(try await harness.waitFor(instance) { $0 == "completed" } == "completed")
        let shown = try await harness.send("GET", "/v1/instances/\(instance)", token: harness.operatorToken)
        #expect(shown.json["output"]?["reply"]?["body"] == "Hi Jonas,\nWe blocked the card; a new one is on its way.")
        #expect(shown.json["output"]?["review"]?["decision"] == "edit")
        try await harness.stop()
    }

    @Test(.enabled(if: Browser.availability.available, "\(Browser.availability.reason)"), .timeLimit(.minutes(3)))
    func anOperatorRunsAnEvalAndReadsItsReportInARealBrowser() async throws {
        let harness = try await ServerHarness.start(evals: true)
        try await Self.withBrowser { browser in
            try await browser.go(harness.base.appendingPathComponent("review"))
            try await browser.type("#token", harness.operatorToken + "\u{E007}")
            _ = try await browser.waitForURL(endingWith: "/review")
            try await browser.click("a[href=\"/review/evals\"]")
            _ = try await browser.waitForURL(endingWith: "/review/evals")
            #expect(try await browser.source().contains("No eval has run yet."))
            // The dataset field is left empty: the rubric's own (the shipped held-out set) runs.
            _ = try await browser.script("document.querySelector('#template').value = 'support-ticket-triage@1.1.0'; return true")
            try await browser.click("#run-eval")
            let landed = try await browser.waitForURL(endingWith: "/review/evals/1")
            #expect(landed.hasSuffix("/review/evals/1"), "\(landed)")
            let report = try await browser.source()
            #expect(report.contains("support-ticket-triage@1.1.0") && report.contains("intent_accuracy") && report.contains("<svg"), "\(report.prefix(1500))")
            // The report's own inline styles apply on this page (its CSP allows them): the heading is not the browser default.
            let styled = try await browser.script("return getComputedStyle(document.body).fontFamily")
            #expect(styled.stringValue?.contains("Times") == false, "\(styled)")
            let shot = FileManager.default.temporaryDirectory.appendingPathComponent("steward-eval-report-\(UUID().uuidString.prefix(8)).png")
            try await browser.screenshot().write(to: shot)
            print("screenshot of the eval report: \(shot.path)")
            try await browser.go(harness.base.appendingPathComponent("review/evals"))
            let list = try await browser.source()
            #expect(list.contains("Run 1") && list.contains("intent_accuracy"), "\(list.prefix(2000))")
        }
        // An agent may not see eval runs.
        let agent = try await harness.send("GET", "/v1/evals/runs", token: harness.agentToken)
        #expect(agent.status == 403)
        try await harness.stop()
    }

    @Test(.enabled(if: Browser.availability.available, "\(Browser.availability.reason)"), .timeLimit(.minutes(3)))
    func anApproverLetsACustomerGoOnFromTheMigrationPage() async throws {
        let harness = try await ServerHarness.start(migrations: true)
        // A second engine over the same database starts the migration and evaluates its gate:
        // no instance has finished on the candidate, so the canary gate is inconclusive.
        let controller = MigrationController(assembly: try await ServerHarness.assemble(database: harness.directory.appendingPathComponent("steward.db").path))
        let plan = try TemplateParser.parseMigration(
            """
            migration: page-check
            template: support-ticket-triage
            change:
              binding: {role: classifier, from: banking-intent@1.0.0, to: banking-intent@2.0.0}
            customers:
              pilot: [harbour-credit]
            stages:
              - {name: canary, kind: canary, share: 0.1, min_observations: 10}
              - {name: full, kind: full}
            """, file: "page-check.yaml")
        try await controller.start(plan, actor: "olu")
        let steps = try await controller.advance("page-check", actor: "olu")
        #expect(steps.map(\.state) == ["awaiting_approval"])
        let approver = try await harness.store.addReviewer(name: "Mo Approver", credentials: ["migration-approver"], at: SystemEngineClock().nowMilliseconds())
        try await Self.withBrowser { browser in
            // An agent sees the migration but may not approve it.
            try await browser.go(harness.base.appendingPathComponent("review"))
            try await browser.type("#token", harness.agentToken + "\u{E007}")
            _ = try await browser.waitForURL(endingWith: "/review")
            try await browser.click("a[href=\"/review/migrations\"]")
            _ = try await browser.waitForURL(endingWith: "/review/migrations")
            let seen = try await browser.source()
            #expect(seen.contains("page-check") && seen.contains("harbour-credit") && seen.contains("awaiting_approval"), "\(seen.prefix(2000))")
            #expect(seen.contains("Waiting for a person with the migration-approver credential."))
            #expect(try await browser.script("return document.querySelectorAll('form[action=\"/review/migrations/page-check/approve\"]').length") == 0)
            try await browser.click("form.signout button")
            _ = try await browser.waitForURL(endingWith: "/review/sign-in")

            // The approver signs in, sees the ladder and the canary's evidence, and approves.
            try await browser.type("#token", approver.token + "\u{E007}")
            _ = try await browser.waitForURL(endingWith: "/review")
            try await browser.go(harness.base.appendingPathComponent("review/migrations"))
            #expect(try await browser.script("return document.querySelectorAll('svg.ladder circle').length") == 2)
            #expect(try await browser.script("return document.querySelectorAll('svg.ladder circle.now.awaiting_approval').length") == 1)
            let before = try await browser.source()
            #expect(before.contains("Canary: 0 finished on the candidate") && before.contains("too few observations"), "\(before.prefix(3000))")
            #expect(before.contains("Audited production accuracy: candidate - of 0 audited"), "\(before.prefix(3000))")
            #expect(before.contains("Its review task (instance migration-gate:page-check:harbour-credit:0) is in the queue"), "\(before.prefix(3000))")
            let shot = FileManager.default.temporaryDirectory.appendingPathComponent("steward-migrations-\(UUID().uuidString.prefix(8)).png")
            try await browser.screenshot().write(to: shot)
            print("screenshot of the migration page: \(shot.path)")
            try await browser.click("form[action=\"/review/migrations/page-check/approve\"] button")
            let landed = try await browser.waitForURL(endingWith: "/review/migrations?approved=harbour-credit")
            #expect(landed.hasSuffix("approved=harbour-credit"))
            let after = try await browser.source()
            #expect(after.contains("Approved: harbour-credit goes on") && after.contains("stage full") && after.contains("100% of new work"), "\(after.prefix(3000))")
        }
        let progress = try await harness.store.migrationProgress("page-check")
        #expect(progress.first?.state == "running" && progress.first?.share == 1)
        #expect(try await harness.store.auditEntries(limit: 20).contains { $0.kind == "migration_approved" && $0.actor == approver.0.id })
        // The page's approval decided the gate's review task too.
        let gate = try await harness.store.instance(id: MigrationController.gateInstance("page-check", customer: "harbour-credit", stage: 0))
        #expect(gate?.status == .completed && gate?.data["reviews"]?["gate"]?["reviewer"]?.stringValue == approver.0.id, "\(String(describing: gate))")
        try await harness.stop()
    }

    @Test(.enabled(if: Browser.availability.available, "\(Browser.availability.reason)"), .timeLimit(.minutes(3)))
    func twoAgentsGiveAuditVerdictsInARealBrowser() async throws {
        let harness = try await ServerHarness.start(auditedCustomer: true)
        let (_, audit) = try await harness.sampledAudit()
        let bo = try await harness.store.addReviewer(name: "Bo Agent", credentials: ["support-agent"], at: SystemEngineClock().nowMilliseconds())
        try await Self.withBrowser { browser in
            func signIn(_ token: String) async throws {
                try await browser.go(harness.base.appendingPathComponent("review/sign-in"))
                try await browser.type("#token", token + "\u{E007}")
                #expect(try await browser.waitForURL(endingWith: "/review").hasSuffix("/review"))
            }
            try await signIn(harness.agentToken)
            let queue = try await browser.source()
            #expect(queue.contains("Audit \(audit)</a> <span class=\"badge\">audit</span>"), "the audit is on the task list")
            try await browser.click("a[href=\"/review/audits/\(audit)\"]")
            #expect(try await browser.waitForURL(endingWith: "/review/audits/\(audit)").hasSuffix("/review/audits/\(audit)"))
            let page = try await browser.source()
            #expect(page.contains("Fee on my card payment") && page.contains("banking-intent@3.0.0"))
            #expect(page.contains("<code>classification.label</code> was <code>\"card_payment_fee_charged\"</code>"))
            let unlabeled = try await browser.script(
                "return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')].filter(e => !e.id || !document.querySelector('label[for=\"' + e.id + '\"]')).length")
            #expect(unlabeled == 0, "every field has a label")

            // "Wrong" without the right value comes back with the error and the choices kept.
            try await browser.click("#verdict-0-correct")
            try await browser.click("#verdict-1-wrong")
            try await browser.click("#give-verdict")
            #expect(try await browser.waitForURL(endingWith: "/review/audits/\(audit)/verdict").hasSuffix("/verdict"))
            // The page source is the browser's serialisation of the DOM: quotes in text are plain.
            #expect(try await browser.source().contains("a 'wrong' verdict on 'routing.priority' needs the correct value"))
            #expect(try await browser.property("#verdict-1-wrong", "checked") == true)
            try await browser.type("#value-1", "P2")
            try await browser.click("#give-verdict")
            let landed = try await browser.waitForURL(endingWith: "/review?audited=\(audit)")
            #expect(landed.hasSuffix("/review?audited=\(audit)"), "\(landed)")
            #expect(try await browser.source().contains("Audit \(audit): your verdict is recorded."))
            #expect(!(try await browser.source().contains("/review/audits/\(audit)")), "Ana cannot give the second review")

            // Bo sees the second review, blind to Ana's verdict, and completes it.
            try await browser.click(".signout button")
            try await signIn(bo.token)
            #expect(try await browser.source().contains("Audit \(audit)</a> <span class=\"badge\">second review</span>"))
            try await browser.go(harness.base.appendingPathComponent("review/audits/\(audit)"))
            let blind = try await browser.source()
            #expect(blind.contains("hidden until the item has all its reviews") && !blind.contains("should be"), "blind to the first verdict")
            try await browser.click("#verdict-0-correct")
            try await browser.click("#verdict-1-correct")
            try await browser.click("#give-verdict")
            #expect(try await browser.waitForURL(endingWith: "/review?audited=\(audit)").hasSuffix("/review?audited=\(audit)"))
        }
        let item = try #require(try await harness.store.auditItem(id: audit))
        #expect(item.isComplete && item.verdicts.map(\.reviewer) == [harness.agentID, bo.0.id])
        #expect(item.verdicts.first?.judgement(of: "routing.priority") == AuditJudgement(path: "routing.priority", correct: false, correction: "P2"))
        try await harness.stop()
    }
}
