import CJavaScriptCore

extension Prelude {
    /// The prelude as one JavaScript string for every context: made once instead of converting 40 KB
    /// of source per sandbox. JSC copies a `JSStringRef`'s characters when it evaluates one, so the
    /// same string serves every worker thread.
    static let script = SharedScript(source: source, url: url)
    static let url = "prelude.js"
}

/// A script and its source URL as JavaScript strings, kept for the life of the process.
final class SharedScript: @unchecked Sendable {
    // @unchecked Sendable: both strings are immutable after init and never released.
    let string: JSStringRef
    let url: JSStringRef

    init(source: String, url: String) {
        string = JSC.string(source)
        self.url = JSC.string(url)
    }
}
