/// Turns a message into the terms the models count: lower-cased words and word pairs.
///
/// A word is a run of letters and digits; apostrophes inside a word are dropped ("can't" ->
/// "cant") and every other character separates words. Terms are the words (unigrams) and
/// each pair of neighbouring words joined by one space (bigrams).
public enum Tokenizer {
    /// The lower-cased words of `text`, in order.
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for character in text.lowercased() {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else if character == "'" || character == "\u{2019}" {
                continue
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// The unigram and bigram terms of `text`, with repeats (so callers can count them).
    public static func terms(_ text: String) -> [String] {
        let words = words(text)
        var terms = words
        terms.reserveCapacity(words.count * 2)
        if words.count > 1 {
            for index in 1..<words.count {
                terms.append(words[index - 1] + " " + words[index])
            }
        }
        return terms
    }

    /// The marker that starts every character n-gram term, so no word term can equal one (the
    /// word tokenizer never keeps "#").
    public static let characterMarker: Character = "#"

    /// The character n-grams of each word of `text`, lengths `lengths`, with repeats: each word
    /// is padded with one space on both sides first (so "card" gives "# c", "#ca", …, "#rd "),
    /// which lets prefixes and suffixes count as their own terms and makes the model robust
    /// to typos and inflections ("recieved", "transfered", "topup").
    public static func characterTerms(_ text: String, lengths: ClosedRange<Int>) -> [String] {
        var terms: [String] = []
        for word in words(text) {
            let padded = Array(" " + word + " ")
            for length in lengths where length <= padded.count {
                for start in 0...(padded.count - length) {
                    var term = String(characterMarker)
                    term.append(contentsOf: padded[start..<(start + length)])
                    terms.append(term)
                }
            }
        }
        return terms
    }
}
