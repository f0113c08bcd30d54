// The ABI's task kinds, written once: StewardPluginKit compiles this same file (its
// ModelTask.swift is a symlink to this one), so host and plugins name tasks alike.

/// What a model call is asked to do (`stw_task_kind`).
public enum ModelTask: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// `STW_TASK_CLASSIFY`: pick a label; output `{"label": ..., "alternatives": [...]}`.
    case classify = 1
    /// `STW_TASK_EXTRACT`: pull fields out of text; output is a JSON object.
    case extract = 2
    /// `STW_TASK_GENERATE`: write text; output `{"text": ...}`.
    case generate = 3
    /// `STW_TASK_SCORE`: a number; output `{"score": ...}`.
    case score = 4

    /// The task's bit in `stw_adapter.task_mask` (`STW_TASK_BIT(kind)`).
    public var bit: UInt32 { 1 << UInt32(rawValue) }

    /// The task's name in templates and messages ("classify").
    public var description: String {
        switch self {
        case .classify: return "classify"
        case .extract: return "extract"
        case .generate: return "generate"
        case .score: return "score"
        }
    }
}
