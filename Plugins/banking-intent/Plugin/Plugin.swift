// The banking plugin: the banking77 intent classifier as three model adapters
// (banking-intent@1.0.0, naive Bayes; banking-intent@2.0.0, logistic regression;
// banking-intent@3.0.0, logistic regression over words and character n-grams with an
// out-of-scope class) and a step,
// banking.classify, for templates that call it before model states exist.
//
// Only `stw_plugin_entry` is public; the module name (StewardBankingIntentPlugin) and its model
// module (BankingIntentModel) are unique, so they cannot clash with the host's Swift modules.
import StewardPluginKit

/// The ABI entry point: hands the host the plugin's descriptor and does nothing else.
@_cdecl("stw_plugin_entry")
public func stw_plugin_entry(
    _ host: UnsafePointer<stw_host>?, _ out: UnsafeMutablePointer<UnsafePointer<stw_plugin>?>?
) -> stw_status {
    PluginKit.entry(host, out, plugin: banking)
}

/// Thread-safe for real: models are immutable once loaded and the cache is behind a Mutex.
let banking = Plugin(
    name: "banking", version: "1.0.0",
    description: "Banking customer-support intent classifier (banking77), as model adapters and a step",
    steps: [
        Step(
            "classify", version: "1.0.0",
            description: "Classify a banking customer message into one of 77 intents with calibrated confidence",
            flags: [.threadSafe, .pure], Classifier.step),
    ],
    adapters: [
        Adapter(
            id: Classifier.adapterID, version: "1.0.0",
            description: "banking77 intents: multinomial naive Bayes over TF-IDF word 1-2 grams, temperature-calibrated",
            tasks: [.classify], threadSafe: true
        ) { call throws(StepFailure) in try Classifier.adapter(call, version: "1.0.0") },
        Adapter(
            id: Classifier.adapterID, version: "2.0.0",
            description: "banking77 intents: softmax logistic regression over TF-IDF word 1-2 grams, temperature-calibrated",
            tasks: [.classify], threadSafe: true
        ) { call throws(StepFailure) in try Classifier.adapter(call, version: "2.0.0") },
        Adapter(
            id: Classifier.adapterID, version: "3.0.0",
            description: "banking77 intents with out-of-scope detection: softmax logistic regression over TF-IDF word 1-2 grams and character 2-5 grams, trained with CLINC150 and StackFAQ texts as a 78th class; temperature-calibrated",
            tasks: [.classify], threadSafe: true
        ) { call throws(StepFailure) in try Classifier.adapter(call, version: "3.0.0") },
    ])
