import ArgumentParser
import Foundation
import StewardEngine
import StewardJSON
import StewardReview
import StewardStatistics

/// `steward review audits|audit|accuracy|agreement|labels`: audits of sampled production work.
/// They read and write the store only (no plugins are loaded).
extension ReviewCommand {
    struct Audits: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open audit items of sampled production work, oldest first (those you may review, with --token).")
        @Option(help: "Only this template's items.") var template: String?
        @Option(help: "Only this customer's items.") var customer: String?
        @Flag(name: .customLong("json"), help: "Print the items as JSON: {\"audits\": [...]}.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let desk = AuditDesk(store: try await storeOptions.openStore())
            let reviewer = try await tokenOptions.resolved.asyncMap { token in
                try await reviewing { try await desk.store.authenticate(token: token) }
            }
            let views = try await desk.audits(for: reviewer, template: template, customer: customer)
            if json {
                print(JSONValue.object(["audits": .array(views.map { AuditJSON.item($0, time: { .string(formatMilliseconds($0)) }) })]).prettyJSONString)
                return
            }
            for view in views {
                let item = view.item
                let kind = view.isSecondReview ? "second review" : (item.neededReviews == 2 ? "audit (1 of 2 reviews)" : "audit")
                print("\(item.id)  \(item.credential)  \(item.template)  \(item.customer ?? "-")  \(item.instanceID)  at \(item.checkpoint)  \(kind)  judges \(item.items.map(\.path).joined(separator: ", "))")
            }
            if views.isEmpty { print("no open audit items") }
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an audit item (as JSON), or give your verdict on it with --item.",
            discussion: """
                Give one --item per judged path: PATH=correct when the instance's value was right, PATH=wrong:VALUE \
                with the value it should have been (JSON when it parses, else a string), e.g. \
                --item classification.label=correct --item routing.priority=wrong:P1. Until an item has all its reviews \
                you see only your own verdict.
                """)
        @Argument(help: "Audit item id.") var id: Int64
        @Option(name: .customLong("item"), help: "A verdict, PATH=correct or PATH=wrong:VALUE (repeatable).") var items: [String] = []
        @OptionGroup var tokenOptions: TokenOptions
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let desk = AuditDesk(store: try await storeOptions.openStore())
            let judgements = try items.map { text in
                guard let judgement = AuditJSON.judgement(text) else {
                    throw CLIError("--item \(text): expected PATH=correct or PATH=wrong:VALUE")
                }
                return judgement
            }
            let view: AuditView = try await reviewing {
                if judgements.isEmpty {
                    let reviewer = try await tokenOptions.resolved.asyncMap { try await desk.store.authenticate(token: $0) }
                    return try await desk.audit(id: id, for: reviewer)
                }
                let reviewer = try await desk.store.authenticate(token: tokenOptions.required())
                return try await desk.giveVerdict(item: id, by: reviewer, judgements: judgements)
            }
            print(AuditJSON.item(view, time: { .string(formatMilliseconds($0)) }).prettyJSONString)
        }
    }

    struct Accuracy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Production accuracy of a template from its complete audits: per customer, model bindings and judged path, with 95% intervals.")
        @Argument(help: "Template name.") var template: String
        @Option(help: "Only this customer.") var customer: String?
        @Flag(name: .customLong("json"), help: "Print the report as JSON.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let report = try await AuditDesk(store: try await storeOptions.openStore()).productionAccuracy(template: template, customer: customer)
            if json {
                print(try AuditJSON.encode(report).prettyJSONString)
                return
            }
            print("\(template): \(report.complete) complete audit item(s), \(report.open) open (not counted)")
            for group in report.groups {
                let bindings = group.bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                print("\(group.customer ?? "no customer")  \(bindings.isEmpty ? "no model bindings" : bindings)")
                for item in group.items { print("  \(item.path)  \(Self.line(item.estimate))") }
                print("  all judged items correct  \(Self.line(group.allCorrect))")
            }
        }

        /// "0.800 (95% CI 0.490-0.943), 8/10".
        static func line(_ estimate: AccuracyEstimate) -> String {
            guard let accuracy = estimate.accuracy else { return "no verdicts" }
            let interval = "\(String(format: "%.3f", estimate.interval.low))-\(String(format: "%.3f", estimate.interval.high))"
            return "\(String(format: "%.3f", accuracy)) (95% CI \(interval)), \(estimate.correct)/\(estimate.n)"
        }
    }

    struct Agreement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reviewer agreement on a template's double-reviewed audit items: Cohen's kappa per judged path and per reviewer pair.")
        @Argument(help: "Template name.") var template: String
        @Flag(name: .customLong("json"), help: "Print the report as JSON.") var jsonFlag = false
        @OptionGroup var format: OutputChoice
        var json: Bool { jsonFlag || format.isJSON }
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let report = try await AuditDesk(store: try await storeOptions.openStore()).agreement(template: template)
            if json {
                print(try AuditJSON.encode(report).prettyJSONString)
                return
            }
            print("\(template): \(report.doubleReviewed) double-reviewed item(s)")
            for item in report.items { print("  \(item.path)  \(Self.line(item.agreement))") }
            for pair in report.pairs { print("  \(pair.reviewers.joined(separator: " & "))  \(pair.path)  \(Self.line(pair.agreement))") }
        }

        /// "kappa 0.615, 4 of 5 agree".
        static func line(_ agreement: StewardReview.Agreement) -> String {
            let kappa = agreement.kappa.map { String(format: "%.3f", $0) } ?? "n/a"
            return "kappa \(kappa), \(agreement.agreed) of \(agreement.comparable) agree"
        }
    }

    struct Labels: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a template's complete audits as eval dataset lines ({id, input, expected}, JSON Lines).")
        @Argument(help: "Template name.") var template: String
        @Option(help: "Only this customer.") var customer: String?
        @Option(help: "The .jsonl file to write (replaced if it exists).") var out: String
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let lines = try await AuditDesk(store: try await storeOptions.openStore()).labels(template: template, customer: customer)
            let text = lines.map { $0.jsonString + "\n" }.joined()
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else { throw CLIError("cannot write \(out)") }
            print("wrote \(lines.count) labelled example(s) to \(out)")
        }
    }
}
