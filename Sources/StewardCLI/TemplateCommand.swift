import ArgumentParser
import StewardBootstrap
import Foundation
import StewardJSON
import StewardCore
import StewardEngine
import StewardSLA
import StewardTemplates

/// `steward template show NAME [--customer C]`: the effective template of a customer.
struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template", abstract: "Show templates as a customer gets them.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a template's effective settings for a customer (config, model bindings, SLA targets, calendar, audit sampling) as JSON.",
            discussion: "The overlay in workflows/customers/NAME.yaml is applied and validated like the template itself.")
        @Argument(help: "Template name (or a template file).") var template: String
        @Option(help: "Apply this customer's overlay.") var customer: String?
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var plugins: PluginOptions

        func run() async throws {
            let context = try await EngineContext(store: storeOptions, plugins: plugins, extraTemplate: TemplateArgument.extraTemplate(template))
            let plan = try TemplateArgument.plan(template, in: context, workflows: storeOptions.workflows)
            if let customer, context.overlays[customer] == nil {
                throw CLIError("unknown customer '\(customer)'; expected one of: \(context.overlays.keys.sorted().joined(separator: ", "))")
            }
            let template = plan.template
            let overlay = customer.flatMap { context.overlays[$0]?.templates[template.name] }
            let bindings = template.models.merging(context.plans.bindings(for: plan, customer: customer)) { _, customer in customer }
            var targets: [String: JSONValue] = [:]
            let (serviceLevels, _) = ServiceLevelConfiguration.load(Array(context.overlays.values))
            for priority in (template.serviceLevels?.targets.keys).map(Array.init) ?? [] {
                if let target = serviceLevels.target(template: template, customer: customer, priority: priority) {
                    targets[priority] = [
                        "first_response_seconds": .integer(Int64(target.firstResponse)), "resolution_seconds": .integer(Int64(target.resolution)),
                        "overridden": .bool(overlay?.slaTargets[priority] != nil),
                    ]
                }
            }
            let overrides = context.plans.sampling(for: plan, customer: customer)
            var sampling: [String: JSONValue] = [:]
            for state in template.states {
                guard case .checkpoint(let checkpoint) = state.kind, let rule = checkpoint.sample?.applying(overrides[state.name]) else { continue }
                sampling[state.name] = [
                    "rate": .double(rule.rate), "double_review": .double(rule.doubleReview), "items": .array(rule.items.map { .string($0) }),
                    "credential": .string(rule.credential ?? checkpoint.credential), "overridden": .bool(overrides[state.name] != nil),
                ]
            }
            var calendar: JSONValue = "24x7 UTC (no customer calendar)"
            if let customer, let spec = context.overlays[customer]?.calendar { calendar = spec }
            let effective: JSONValue = [
                "template": .string(template.name), "version": .string(template.version), "vertical": .string(template.vertical),
                "customer": customer.map { .string($0) } ?? .null, "file": .string(template.file),
                "config": context.plans.config(for: plan, customer: customer),
                "models": .object(bindings.mapValues { .string($0) }),
                "sla": [
                    "priority": template.serviceLevels.map { .string($0.priority.source) } ?? .null, "targets": .object(targets),
                    "warning_fraction": template.serviceLevels.map { .double($0.warningFraction) } ?? .null, "calendar": calendar,
                ],
                "escalation": .array(template.escalation.map {
                    ["at": .string($0.at.rawValue), "notify": .string($0.notify), "reassign": $0.reassign.map { .string($0) } ?? .null]
                }),
                "sampling": .object(sampling),
                "states": .array(template.states.map { .string("\($0.name) (\($0.kindName))") }),
                "aop": [
                    "domain": .string(template.aop.domain), "escalation_target": .string(template.aop.escalationTarget),
                    "may": .array(template.aop.may.map { .string($0) }), "may_not": .array(template.aop.mayNot.map { .string($0) }),
                ],
            ]
            print(effective.prettyJSONString)
        }
    }
}
