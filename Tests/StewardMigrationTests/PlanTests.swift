import Foundation
import StewardCore
import StewardTemplates
import Testing

/// Migration plans are operator input (located errors), and canary bucketing is deterministic
/// and stable as the share grows.
@Suite struct PlanTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theShippedPlanParses() throws {
        let path = Self.packageRoot.appendingPathComponent("migrations/banking-intent-v2.yaml").path
        let plan = try TemplateParser.parseMigration(try String(contentsOfFile: path, encoding: .utf8), file: "banking-intent-v2.yaml")
        #expect(plan.name == "banking-intent-v2" && plan.role == "classifier")
        #expect(plan.from == "banking-intent@1.0.0" && plan.to == "banking-intent@2.0.0")
        #expect(plan.pilot == ["acme-bank"] && plan.rest == ["harbour-credit"])
        #expect(plan.stages.map(\.kind) == [.regression, .canary, .full])
        #expect(plan.stages[1].share == 0.2 && plan.stages[1].approvalRequired && plan.stages[1].minimumDuration == 172_800_000)
        #expect(plan.stages[1].maximumReworkRate == 0.3 && plan.stages[1].maximumFailureRate == 0.02)
        #expect(plan.retireBy == "2027-06-30")
    }

    @Test func mistakesAreLocated() {
        let text = """
            migration: bad
            template: t
            change:
              binding: {role: classifier, from: a@1.0.0, to: a@1.0.0}
            customers:
              pilot: [acme]
              rest: [acme]
            retire_by: 2027-02-30
            stages:
              - {name: look, kind: shaddow}
              - {name: five, kind: canary, share: 0.5}
              - {name: two, kind: canary, share: 0.2, min_duration: 2 days}
              - {name: five, kind: regression, share: 0.1}
            """
        do {
            _ = try TemplateParser.parseMigration(text, file: "bad.yaml")
            Issue.record("a broken plan parsed")
        } catch {
            let lines = error.diagnostics.map(\.description)
            func has(_ line: Int, _ fragment: String) -> Bool { lines.contains { $0.hasPrefix("bad.yaml:\(line):") && $0.contains(fragment) } }
            #expect(has(4, "the same as 'from'"), "\(lines)")
            #expect(has(7, "customer 'acme' is in both 'pilot' and 'rest'"), "\(lines)")
            #expect(has(8, "expected a date YYYY-MM-DD for 'retire_by'"), "\(lines)")
            #expect(has(10, "unknown stage kind 'shaddow' in stage 'look' (did you mean 'shadow'?)"), "\(lines)")
            #expect(has(12, "expected a duration like 30m, 24h or 7d"), "\(lines)")
            #expect(has(13, "'share' applies to canary stages only"), "\(lines)")
            #expect(has(13, "duplicate stage name 'five'"), "\(lines)")
            #expect(has(12, "shares only grow"), "\(lines)")
        }
    }

    @Test func bucketingPutsTheShareOnTheCandidateAndNeverFlipsBack() {
        let ids = (0..<5_000).map { "instance-\($0)" }
        let five = Set(ids.filter { CanaryBucket.isCandidate(instance: $0, migration: "m", share: 0.05) })
        let twenty = Set(ids.filter { CanaryBucket.isCandidate(instance: $0, migration: "m", share: 0.2) })
        // Binomial: 5,000 draws at 0.2 have a standard deviation of 0.0057; the tolerance is 3 of them.
        #expect(abs(Double(twenty.count) / 5_000 - 0.2) < 0.017, "\(twenty.count)")
        #expect(abs(Double(five.count) / 5_000 - 0.05) < 0.0093, "\(five.count)")
        #expect(five.isSubset(of: twenty), "growing the share keeps everyone who was on the candidate")
        #expect(ids.allSatisfy { CanaryBucket.isCandidate(instance: $0, migration: "m", share: 1) })
        #expect(!ids.contains { CanaryBucket.isCandidate(instance: $0, migration: "m", share: 0) })
        // Another migration buckets independently.
        let other = Set(ids.filter { CanaryBucket.isCandidate(instance: $0, migration: "other", share: 0.2) })
        #expect(other != twenty)
    }
}
