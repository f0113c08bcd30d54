import Foundation

/// A sparse feature vector: sorted feature indices and their values.
public struct SparseVector: Sendable, Equatable {
    /// Feature indices, ascending.
    public var indices: [Int32]
    /// The value of each feature in `indices`.
    public var values: [Float]

    /// Creates a vector (indices must be ascending and match values one to one).
    public init(indices: [Int32], values: [Float]) {
        self.indices = indices
        self.values = values
    }
}

/// The TF-IDF feature space: a vocabulary of terms and each term's inverse document frequency.
///
/// A text's vector holds, for each known term, `(1 + ln tf) * idf` (sublinear term frequency),
/// scaled to unit Euclidean length. `idf = ln((1 + n) / (1 + df)) + 1`, the smoothed form, over
/// the `n` training texts; terms seen in fewer than `minimumDocumentFrequency` of them are dropped.
///
/// With `characterNGrams` set (version 3), the vocabulary also holds the character n-grams of
/// each word (`Tokenizer.characterTerms`, marked with "#"), and a vector is two blocks, the
/// word terms and the character terms, each scaled to unit length and then by `1/sqrt(2)`, so
/// neither block drowns the other and the whole vector still has unit length.
public struct FeatureSpace: Sendable {
    /// The terms, sorted; feature `i` is `terms[i]`.
    public let terms: [String]
    /// Inverse document frequency of each term.
    public let idf: [Float]
    /// The character n-gram lengths, or nil for word terms only.
    public let characterNGrams: ClosedRange<Int>?
    private let indexByTerm: [String: Int32]

    /// Creates a feature space from terms and their idf values.
    ///
    /// - Throws: when the counts differ, a term repeats, or `characterNGrams` is not within 1...10.
    public init(terms: [String], idf: [Float], characterNGrams: ClosedRange<Int>? = nil) throws(BankingIntentError) {
        if let lengths = characterNGrams, lengths.lowerBound < 1 || lengths.upperBound > 10 {
            throw BankingIntentError("character n-gram lengths \(lengths) are not within 1...10")
        }
        guard terms.count == idf.count else { throw BankingIntentError("\(terms.count) terms but \(idf.count) idf values") }
        var index: [String: Int32] = [:]
        index.reserveCapacity(terms.count)
        for (position, term) in terms.enumerated() {
            guard index.updateValue(Int32(position), forKey: term) == nil else {
                throw BankingIntentError("the term '\(term)' appears twice in the vocabulary")
            }
        }
        self.terms = terms
        self.idf = idf
        self.characterNGrams = characterNGrams
        self.indexByTerm = index
    }

    /// Learns the vocabulary and idf from training texts.
    public static func fit(_ texts: [String], minimumDocumentFrequency: Int, characterNGrams: ClosedRange<Int>? = nil) -> FeatureSpace {
        var documentFrequency: [String: Int] = [:]
        for text in texts {
            for term in Set(Tokenizer.terms(text)) {
                documentFrequency[term, default: 0] += 1
            }
            if let lengths = characterNGrams {
                for term in Set(Tokenizer.characterTerms(text, lengths: lengths)) {
                    documentFrequency[term, default: 0] += 1
                }
            }
        }
        // Sorted, so the feature order never depends on hashing.
        let kept = documentFrequency.filter { $0.value >= minimumDocumentFrequency }.keys.sorted()
        let n = Double(texts.count)
        let idf = kept.map { term in Float(log((1 + n) / (1 + Double(documentFrequency[term]!))) + 1) }
        // The terms are unique and as many as the idf values, so this cannot fail.
        return try! FeatureSpace(terms: kept, idf: idf, characterNGrams: characterNGrams)
    }

    /// The number of features.
    public var count: Int { terms.count }

    /// The unit-length TF-IDF vector of `text` (all zeros when it has no known term).
    public func vector(_ text: String) -> SparseVector {
        let words = block(Tokenizer.terms(text))
        guard let lengths = characterNGrams else {
            return SparseVector(indices: words.indices, values: words.values)
        }
        let characters = block(Tokenizer.characterTerms(text, lengths: lengths))
        // Both blocks are unit length; each gets half the squared length. Their indices are
        // disjoint and each sorted, so merging keeps the vector sorted.
        let half = Float(0.5).squareRoot()
        var indices: [Int32] = [], values: [Float] = []
        indices.reserveCapacity(words.indices.count + characters.indices.count)
        values.reserveCapacity(indices.capacity)
        var i = 0, j = 0
        while i < words.indices.count || j < characters.indices.count {
            if j == characters.indices.count || (i < words.indices.count && words.indices[i] < characters.indices[j]) {
                indices.append(words.indices[i])
                values.append(words.values[i] * half)
                i += 1
            } else {
                indices.append(characters.indices[j])
                values.append(characters.values[j] * half)
                j += 1
            }
        }
        return SparseVector(indices: indices, values: values)
    }

    /// Sublinear TF-IDF of the known terms among `terms`, sorted by index, unit length.
    private func block(_ terms: [String]) -> (indices: [Int32], values: [Float]) {
        var counts: [Int32: Int] = [:]
        for term in terms {
            if let index = indexByTerm[term] { counts[index, default: 0] += 1 }
        }
        let indices = counts.keys.sorted()
        var values = indices.map { index in Float(1 + log(Double(counts[index]!))) * idf[Int(index)] }
        let norm = values.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 {
            for position in values.indices { values[position] /= norm }
        }
        return (indices, values)
    }
}
