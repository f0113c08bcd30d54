import StewardTemplates
import StewardTesting
import Testing

/// `workflows/plugins.yaml` (pins and how each plugin runs) and a template's `{name, isolation}`
/// plugin entries: read as written, every mistake located.
@Suite("Plugin settings and a template's isolation requests")
struct PluginSettingsTests {
    @Test func theOperatorsSettingsRead() throws {
        let settings = try TemplateParser.parsePluginSettings("""
            pins:
              kb@1.0.0: \(String(repeating: "ab", count: 32))
            plugins:
              kb: {isolation: process, memory_limit_mb: 256, cpu_limit_ms: 500, hosts: 3, channels: 2, on_crash: permanent, quarantine_after: 4, quarantine_window_s: 30, network: false}
              support: {isolation: in-process}
              openai: {isolation: process, environment: {OPENAI_API_KEY: sk-live, http_proxy: null}}
            """, file: "plugins.yaml")
        #expect(settings.pins == ["kb@1.0.0": String(repeating: "ab", count: 32)])
        let kb = try #require(settings.plugins["kb"])
        #expect(kb.isolation == "process" && kb.memoryLimitMegabytes == 256 && kb.cpuLimitMilliseconds == 500 && kb.hosts == 3 && kb.channels == 2)
        #expect(kb.onCrash == "permanent" && kb.quarantineAfter == 4 && kb.quarantineWindowSeconds == 30 && !kb.network)
        #expect(settings.plugins["support"]?.isolation == "in-process")
        let expected: [String: String?] = ["OPENAI_API_KEY": "sk-live", "http_proxy": nil]
        #expect(settings.plugins["openai"]?.environment == expected)
    }

    @Test func everyMistakeIsLocated() {
        let text = """
            plugins:
              kb: {isolation: sandbox, hosts: 0, on_crash: sometimes, netwrok: false}
              support: {isolation: in-process, memory_limit_mb: 64}
            """
        do {
            _ = try TemplateParser.parsePluginSettings(text, file: "plugins.yaml")
            Issue.record("the settings should be refused")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.contains { $0.hasPrefix("plugins.yaml:2:") && $0.contains("unknown key 'netwrok'") && $0.contains("did you mean 'network'") }, "\(lines)")
            #expect(lines.contains { $0.contains("expected 'in-process' or 'process' for 'isolation' of plugin 'kb', found 'sandbox'") }, "\(lines)")
            #expect(lines.contains { $0.contains("'hosts' of plugin 'kb'") && $0.contains("1...64") }, "\(lines)")
            #expect(lines.contains { $0.contains("'on_crash' of plugin 'kb'") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("plugins.yaml:3:") && $0.contains("applies only with 'isolation: process'") }, "\(lines)")
        }
    }

    @Test func aTemplateListsPluginsByNameOrWithItsIsolation() throws {
        let template = try TemplateParser.parse(TestPlans.templateText("""
            plugins: [support, {name: kb, isolation: process}]
            states:
              one: {kind: end}
            """), file: "t.yaml")
        #expect(template.plugins == ["support", "kb"])
        #expect(template.pluginIsolation == ["kb": "process"])
        #expect(throws: TemplateErrors.self) {
            _ = try TemplateParser.parse(TestPlans.templateText("""
                plugins: [{name: kb, isolation: proces}, {isolation: process}]
                states:
                  one: {kind: end}
                """), file: "t.yaml")
        }
        do {
            _ = try TemplateParser.parse(TestPlans.templateText("""
                plugins: [{name: kb, isolation: proces}, {isolation: process}]
                states:
                  one: {kind: end}
                """), file: "t.yaml")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.contains { $0.contains("found 'proces' (did you mean 'process'?)") }, "\(lines)")
            #expect(lines.contains { $0.contains("a plugin entry needs a 'name'") }, "\(lines)")
        }
    }
}
