import Testing

@testable import PostHogEvents

@Suite struct PersonPropertiesTests {
    @Test("a truthy $set or $set_once of the event replaces the one in properties")
    func placement() {
        let properties: JSONObject = ["$set": ["old": 1], "a": 1]
        let data: JSONObject = ["$set": ["new": 2], "$set_once": ["once": 3], "event": "x"]
        let placed = PersonProperties.placingSetAndSetOnce(properties: properties, data: data)
        #expect(placed.keys == ["$set", "a", "$set_once"])
        #expect(placed["$set"] == ["new": 2])
        #expect(placed["$set_once"] == ["once": 3])
    }

    @Test("a falsy $set of the event leaves properties alone")
    func falsyPlacement() {
        let properties: JSONObject = ["$set": ["old": 1]]
        for falsy: JSON in [.null, 0, "", false] {
            let placed = PersonProperties.placingSetAndSetOnce(properties: properties, data: ["$set": falsy])
            #expect(placed == properties)
        }
        // An empty object is truthy in JavaScript.
        let placed = PersonProperties.placingSetAndSetOnce(properties: properties, data: ["$set": [:]])
        #expect(placed["$set"] == .object([:]))
    }

    @Test("capture new person: UTM and initial keys make the expected person properties")
    func captureNewPerson() {
        let properties: JSONObject = [
            "distinct_id": 2, "token": "THIS IS NOT A TOKEN FOR TEAM 2", "$browser": "Chrome",
            "$current_url": "https://test.com", "$os": "Mac OS X", "$browser_version": 80,
            "$initial_referring_domain": "https://google.com", "$initial_referrer_url": "https://google.com/?q=posthog",
            "utm_medium": "twitter",
        ]
        let copy = PersonProperties.addingCampaignProperties(to: properties)
        #expect(copy["$set"] == ["utm_medium": "twitter"])
        #expect(
            copy["$set_once"]?.objectValue?.keys == [
                "$initial_browser", "$initial_current_url", "$initial_os", "$initial_browser_version",
                "$initial_utm_medium",
            ])
        let person = PersonProperties.updated(current: [:], set: copy["$set"], setOnce: copy["$set_once"])
        let expected: JSONObject = [
            "$initial_browser": "Chrome", "$initial_browser_version": 80, "$initial_utm_medium": "twitter",
            "$initial_current_url": "https://test.com", "$initial_os": "Mac OS X", "utm_medium": "twitter",
        ]
        #expect(person == expected)

        // Second event: utm_medium instagram; $set wins, $set_once only fills gaps.
        var second = properties
        second["utm_medium"] = "instagram"
        let secondCopy = PersonProperties.addingCampaignProperties(to: second)
        let after = PersonProperties.updated(current: person, set: secondCopy["$set"], setOnce: secondCopy["$set_once"])
        var expectedAfter = expected
        expectedAfter["utm_medium"] = "instagram"
        #expect(after == expectedAfter)
    }

    @Test("without a campaign key nothing is added, not even $initial_browser")
    func noCampaignNoInitial() {
        let properties: JSONObject = ["$browser": "Chrome", "$os": "Linux", "$set": ["a": 1]]
        #expect(PersonProperties.addingCampaignProperties(to: properties) == properties)
    }

    @Test("campaign values override the client's $set and $set_once, even null ones")
    func campaignOverrides() {
        let properties: JSONObject = [
            "$set": ["utm_source": "client", "keep": 1], "$set_once": ["$initial_utm_source": "client"],
            "utm_source": .null, "$referrer": "https://r", "$referring_domain": "r",
        ]
        let copy = PersonProperties.addingCampaignProperties(to: properties)
        #expect(copy.keys == ["$set", "$set_once", "utm_source", "$referrer", "$referring_domain"])
        #expect(copy["$set"] == ["utm_source": .null, "keep": 1])
        #expect(
            copy["$set_once"] == [
                "$initial_utm_source": .null, "$initial_referrer": "https://r", "$initial_referring_domain": "r",
            ])
        // The input is left as it was.
        #expect(properties["$set"] == ["utm_source": "client", "keep": 1])
    }

    @Test("every campaign and initial key maps to its $initial_ name")
    func initialNames() {
        let keys = [
            "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "$browser", "$browser_version",
            "$device_type", "$current_url", "$os", "$referring_domain", "$referrer",
        ]
        var properties = JSONObject()
        for key in keys { properties[key] = .string(key) }
        properties["gclid"] = "not a campaign key in this version"
        let setOnce = PersonProperties.addingCampaignProperties(to: properties)["$set_once"]?.objectValue
        #expect(
            setOnce?.keys == [
                "$initial_utm_source", "$initial_utm_medium", "$initial_utm_campaign", "$initial_utm_content",
                "$initial_utm_term", "$initial_browser", "$initial_browser_version", "$initial_device_type",
                "$initial_current_url", "$initial_os", "$initial_referring_domain", "$initial_referrer",
            ])
        #expect(setOnce?["$initial_referrer"] == "$referrer")
    }

    @Test("person update: $set always wins, $set_once only fills missing keys")
    func updateMerge() {
        let current: JSONObject = ["a_prop": "test-1", "c_prop": "test-1"]
        #expect(
            PersonProperties.updated(current: current, set: ["a_prop": "test-2", "b_prop": "test-2b"], setOnce: nil)
                == ["a_prop": "test-2", "b_prop": "test-2b", "c_prop": "test-1"])
        #expect(
            PersonProperties.updated(current: current, set: nil, setOnce: ["a_prop": "test-2", "b_prop": "test-2b"])
                == ["a_prop": "test-1", "b_prop": "test-2b", "c_prop": "test-1"])
        let both = PersonProperties.updated(current: ["x": 1], set: ["y": 2], setOnce: ["z": 3, "x": 0])
        #expect(both.keys == ["z", "x", "y"])
        #expect(both == ["z": 3, "x": 1, "y": 2])
    }

    @Test("non-object $set and $set_once are ignored")
    func nonObjectsIgnored() {
        let current: JSONObject = ["a": 1]
        #expect(PersonProperties.updated(current: current, set: "ab", setOnce: [1, 2]) == current)
        #expect(PersonProperties.updated(current: current, set: .null, setOnce: 5) == current)
    }
}
