"""Attributes `perf script` samples (with call stacks) of `steward-bench triage` to the hot spots
listed in BENCHMARKS.md. Each sample goes to the first category whose frames all appear on its
stack, so more specific categories come first.

    python3 attribute.py perf.txt TRANSITIONS
"""
import collections
import sys

ALL = [
    ("sqlite: statement preparation (sqlite3_prepare_v3)", ["sqlite3_prepare_v3"]),
    ("fsync/fdatasync (WAL commit)", ["fdatasync"]),
    ("support plugin: Foundation JSONSerialization encode", ["StewardSupportPlugin4JSONO6encode"]),
    ("support plugin: Foundation JSONSerialization decode", ["StewardSupportPlugin4JSONO12decodeObject"]),
    ("support plugin: other", ["StewardSupportPlugin"]),
    ("keywords C plugin", ["libsteward-keywords"]),
    ("JSONValue serialise: state/event in Journal.applyTransition", ["JournalO15applyTransition", "JSONValueO5write"]),
    ("JSONValue serialise: step input/config (PluginRegistry.call)", ["PluginRegistryV4call", "JSONValueO5write"]),
    ("JSONValue serialise: other", ["JSONValueO5write"]),
    ("JSONValue parse: plugin output", ["PluginRegistryV4call", "JSONValueO5parse"]),
    ("JSONValue parse: stored state (decodeState)", ["decodeState"]),
    ("JSONValue parse: other", ["JSONValueO5parse"]),
    ("hash chain SHA-256", ["SHA256O4hash"]),
    ("sqlite: execute in Journal.apply", ["JournalO5apply", "sqlite3_step"]),
    ("sqlite: reads (instance, task)", ["sqlite3_step"]),
    ("Journal.apply other (GRDB arguments, statements, enum copies)", ["JournalO5apply"]),
    ("Transition.apply", ["TransitionO5apply"]),
    ("PluginRegistry.call / callRaw other", ["PluginRegistryV4call"]),
    ("Engine / ReviewDesk other", ["StewardRuntime6Engine"]),
    ("GRDB other", ["GRDB"]),
    ("Swift concurrency / dispatch", ["swift_task"]),
    ("kernel other", ["[kernel"]),
]
WRITER = [
    ("statement preparation", ["sqlite3_prepare_v3"]),
    ("state/event JSON serialisation", ["JSONValueO5write"]),
    ("SHA-256", ["SHA256O4hash"]),
    ("sqlite execution", ["sqlite3_step"]),
    ("other (GRDB arguments, statements, enum copies, metadata)", [""]),
]


def stacks(path):
    for block in open(path).read().split("\n\n"):
        lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
        if len(lines) > 1:
            yield "\n".join(lines[1:])


def attribute(samples, categories):
    counts = collections.Counter()
    for stack in samples:
        for label, frames in categories:
            if all(frame in stack for frame in frames):
                counts[label] += 1
                break
        else:
            counts["other"] += 1
    return counts


def main():
    samples = list(stacks(sys.argv[1]))
    transitions = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(f"{len(samples)} samples")
    for label, count in attribute(samples, ALL).most_common():
        print(f"{100 * count / len(samples):5.1f}%  {label}")
    writer = [s for s in samples if "GroupCommitter" in s or "JournalO5apply" in s]
    if writer:
        per = f", {len(writer) / 499 / transitions * 1e6:.0f} us of writer CPU per transition" if transitions else ""
        print(f"\nserial writer (GroupCommitter.drain / Journal.apply): {len(writer)} samples{per}")
        for label, count in attribute(writer, WRITER).most_common():
            print(f"{100 * count / len(writer):5.1f}%  {label}")


if __name__ == "__main__":
    main()
