import StewardTemplates

/// Builds plans from short YAML snippets, so tests state only the part of a template they are
/// about: the AOP and the other required fields are filled in.
public enum TestPlans {
    /// A complete template text: a fixed header (name `test-template`, version `1.0.0`, an AOP)
    /// followed by `body`, which holds at least `plugins`, `start` and `states`.
    public static func templateText(_ body: String, name: String = "test-template", version: String = "1.0.0") -> String {
        """
        template: \(name)
        version: \(version)
        vertical: testing
        aop:
          domain: Tests of the Steward runtime.
          inputs: [test input]
          outputs: [test output]
          human_touchpoints: [test checkpoints]
          failure_modes: [test failures]
          escalation_target: test-lead
          may: [run tests]
          may_not: [touch production]

        """ + body
    }

    /// Parses and validates `templateText(body)` (without a step catalog unless one is given);
    /// with `raw`, `body` is already a whole template text. Throws `TemplateErrors` listing
    /// every problem when the snippet is wrong.
    public static func plan(
        _ body: String, name: String = "test-template", version: String = "1.0.0", catalog: StepCatalog? = nil, raw: Bool = false
    ) throws(TemplateErrors) -> Plan {
        let template = try TemplateParser.parse(raw ? body : templateText(body, name: name, version: version), file: "\(name).yaml")
        return try Plan(validating: template, catalog: catalog)
    }
}
