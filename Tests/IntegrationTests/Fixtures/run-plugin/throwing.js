// processEvent throws on one event; runEveryMinute always throws.
export function processEvent(event) {
    if (event.event === 'boom') {
        throw new TypeError(`cannot handle ${event.distinct_id}`)
    }
    event.properties = { ...event.properties, checked: true }
    return event
}

export function runEveryMinute() {
    throw new Error('task failed')
}
