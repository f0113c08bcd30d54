// steward-kb-eval: measures kb.search on the StackFAQ dev queries through the real plugin host.
//
//     swift run -c release steward-kb-eval
//
// Builds Plugins/kb (as `steward plugins build` does), loads it with PluginLoader, and prints
// top-1 / top-3 / MRR@10 with the default parameters, a two-fold cross-validated top-3 (the
// parameters are chosen on one half of the queries and scored on the other), and the latency
// of one call through the ABI.
import ArgumentParser
import Foundation
import StewardKnowledge

@main
struct KnowledgeBaseEvaluation: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steward-kb-eval", abstract: "Measure kb.search on the StackFAQ dev queries through the plugin host.")

    /// The package root, found from this file (the tool is run from a checkout).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Option(help: "A built libsteward-kb.so to evaluate instead of compiling Plugins/kb.")
    var plugin: String?

    @Option(help: "The articles file (default: data/stackfaq/articles.json in the checkout).")
    var articles: String?

    @Option(help: "The labelled queries, JSON lines of {query, article} (default: data/stackfaq/queries-dev.jsonl).")
    var queries: String?

    @Option(help: "Timed passes over the queries for the latency figure.")
    var rounds = 5

    @Flag(help: "Skip the cross-validation (75 passes over the queries).")
    var noCrossValidation = false

    @Option(help: "Also score this k1 (with --b-title, --b-body, --title-weight; unset ones take the defaults).")
    var k1: Double?

    @Option(help: "Also score this b_title.")
    var bTitle: Double?

    @Option(help: "Also score this b_body.")
    var bBody: Double?

    @Option(help: "Also score this title_weight.")
    var titleWeight: Double?

    func run() throws {
        let data = Self.packageRoot.appendingPathComponent("data/stackfaq")
        let articlesPath = articles ?? data.appendingPathComponent("articles.json").path
        let queriesURL = queries.map { URL(fileURLWithPath: $0) } ?? data.appendingPathComponent("queries-dev.jsonl")
        let library = try plugin ?? KnowledgeBasePlugin.buildInTemporaryDirectory(packageRoot: Self.packageRoot)
        defer {
            // A library built here lives in its own temporary directory; once loaded it stays
            // mapped, so the directory can go when the tool is done.
            if plugin == nil { try? FileManager.default.removeItem(atPath: (library as NSString).deletingLastPathComponent) }
        }
        let labelled = try LabelledQuery.load(from: queriesURL)
        let evaluator = try KnowledgeBaseEvaluator(plugin: library, articles: articlesPath)

        print("kb.search  plugin \(library)")
        print("           articles \(articlesPath)")
        print("           queries \(queriesURL.path) (\(labelled.count))")
        print("")
        print("built-in defaults (\(RankingParameters.defaults)), no parameters in the step config:")
        print("           \(try evaluator.evaluate(labelled))")
        if k1 != nil || bTitle != nil || bBody != nil || titleWeight != nil {
            let defaults = RankingParameters.defaults
            let chosen = RankingParameters(
                k1: k1 ?? defaults.k1, bTitle: bTitle ?? defaults.bTitle, bBody: bBody ?? defaults.bBody,
                titleWeight: titleWeight ?? defaults.titleWeight)
            print("")
            print("given      \(chosen)")
            print("           \(try evaluator.evaluate(labelled, parameters: chosen))")
        }
        if !noCrossValidation {
            let grid = RankingParameters.grid
            let validation = try evaluator.crossValidate(labelled, grid: grid)
            print("")
            print("two-fold cross-validation over \(grid.count) settings (tune on one half, score the other):")
            for fold in validation.folds {
                print("  tuned on \(fold.tunedOn): chose \(fold.chosen)")
                print("    tuning half   \(fold.tuning)")
                print("    held-out half \(fold.heldOut)")
            }
            print(String(format: "  cross-validated top-3 %.4f (held-out hits of both folds / all queries)", validation.top3))
        }
        let latency = try evaluator.latency(labelled, rounds: rounds)
        print("")
        print("latency per query, k=3, \(rounds) timed passes:")
        print("  PluginRegistry.call (host JSON in/out + step)  \(latency.call)")
        print("  PluginStep.callRaw  (ABI crossing + C step)    \(latency.raw)")
    }
}
