/// One autocaptured DOM element (ingestion.md §11.1): the record the original hashed, stored in
/// `posthog_element` and rendered into `elements_chain`. Field names follow the Postgres columns.
public struct Element: Sendable, Hashable {
    public var text: String?
    public var tagName: String?
    public var href: String?
    public var attrClass: [String]?
    public var attrId: String?
    public var nthChild: JSON?
    public var nthOfType: JSON?
    /// The element's `attr__*` keys with their values, in the client's key order.
    public var attributes: JSONObject?
    public var order: Int?

    public init(
        text: String? = nil,
        tagName: String? = nil,
        href: String? = nil,
        attrClass: [String]? = nil,
        attrId: String? = nil,
        nthChild: JSON? = nil,
        nthOfType: JSON? = nil,
        attributes: JSONObject? = nil,
        order: Int? = nil
    ) {
        self.text = text
        self.tagName = tagName
        self.href = href
        self.attrClass = attrClass
        self.attrId = attrId
        self.nthChild = nthChild
        self.nthOfType = nthOfType
        self.attributes = attributes
        self.order = order
    }

    /// `attr_class` in the order everything downstream sees: the original sorted it in place by
    /// UTF-16 code units while building the chain, before hashing and storing (Quirk, §11.1).
    var sortedAttrClass: [String]? {
        attrClass?.sorted { $0.precedesInUTF16Order($1) }
    }
}
