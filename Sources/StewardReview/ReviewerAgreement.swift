import StewardEngine
import StewardJSON
import StewardStatistics

/// Cohen's κ between two reviews of the same items.
public struct Agreement: Sendable, Hashable, Codable {
    /// κ, or nil when there is nothing to compare.
    public var kappa: Double?
    /// Items both reviews judged: the comparable count.
    public var comparable: Int
    /// Of those, the ones on which both gave the same label.
    public var agreed: Int

    /// Creates an agreement figure.
    public init(kappa: Double?, comparable: Int, agreed: Int) {
        self.kappa = kappa
        self.comparable = comparable
        self.agreed = agreed
    }
}

/// Agreement on one judged path, over every double-reviewed item (first review against second).
public struct PathAgreement: Sendable, Hashable, Codable {
    /// The judged path.
    public var path: String
    /// Its agreement.
    public var agreement: Agreement
}

/// Agreement of one pair of reviewers on one judged path, over the items both reviewed.
public struct PairAgreement: Sendable, Hashable, Codable {
    /// The two reviewer ids, sorted (the first is the first rater of the κ).
    public var reviewers: [String]
    /// The judged path.
    public var path: String
    /// Their agreement.
    public var agreement: Agreement
}

/// What `ReviewerAgreement.report` finds for a template.
public struct AgreementReport: Sendable, Hashable, Codable {
    /// The template.
    public var template: String
    /// Complete double-reviewed items the figures are computed from.
    public var doubleReviewed: Int
    /// Per judged path, in first-seen order.
    public var items: [PathAgreement]
    /// Per reviewer pair and path, by pair then path.
    public var pairs: [PairAgreement]

    enum CodingKeys: String, CodingKey {
        case template, items, pairs
        case doubleReviewed = "double_reviewed"
    }
}

/// How far reviewers agree on the same sampled items. Pure.
public enum ReviewerAgreement {
    /// Cohen's κ per judged path and per reviewer pair over the complete double-reviewed
    /// items of `items` that belong to `template`. The label a reviewer gives a path is the
    /// value they say is right: the instance's value when they judged it correct, else their
    /// correction, so two reviewers who both judge a value wrong but correct it differently
    /// disagree.
    public static func report(_ items: [AuditItem], template: String) -> AgreementReport {
        let doubled = items.filter { $0.template == template && $0.isComplete && $0.verdicts.count >= 2 }
        var paths: [String] = []
        for item in doubled { for value in item.items where !paths.contains(value.path) { paths.append(value.path) } }

        var byPath: [String: [(JSONValue, JSONValue)]] = [:]
        var byPair: [PairKey: [(JSONValue, JSONValue)]] = [:]
        for item in doubled {
            let (first, second) = (item.verdicts[0], item.verdicts[1])
            for path in paths {
                guard let a = first.judgement(of: path), let b = second.judgement(of: path) else { continue }
                let (labelA, labelB) = (item.label(of: a), item.label(of: b))
                byPath[path, default: []].append((labelA, labelB))
                // Within a pair the rater order is the reviewers' id order, whoever reviewed first.
                let inOrder = first.reviewer <= second.reviewer
                let key = PairKey(first: inOrder ? first.reviewer : second.reviewer, second: inOrder ? second.reviewer : first.reviewer, path: path)
                byPair[key, default: []].append(inOrder ? (labelA, labelB) : (labelB, labelA))
            }
        }
        return AgreementReport(
            template: template, doubleReviewed: doubled.count,
            items: paths.map { PathAgreement(path: $0, agreement: agreement(byPath[$0] ?? [])) },
            pairs: byPair.sorted { ($0.key.first, $0.key.second, paths.firstIndex(of: $0.key.path) ?? 0) < ($1.key.first, $1.key.second, paths.firstIndex(of: $1.key.path) ?? 0) }
                .map { PairAgreement(reviewers: [$0.key.first, $0.key.second], path: $0.key.path, agreement: agreement($0.value)) })
    }

    static func agreement(_ pairs: [(JSONValue, JSONValue)]) -> Agreement {
        Agreement(kappa: Statistics.cohenKappa(pairs), comparable: pairs.count, agreed: pairs.filter { $0.0 == $0.1 }.count)
    }

    struct PairKey: Hashable {
        var first: String
        var second: String
        var path: String
    }
}
