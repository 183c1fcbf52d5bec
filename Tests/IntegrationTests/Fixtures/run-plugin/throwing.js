// processEvent throws on two events (an Error, and a string); runEveryMinute always throws.
export function processEvent(event) {
    if (event.event === 'boom') {
        throw new TypeError(`cannot handle ${event.distinct_id}`)
    }
    if (event.event === 'string') {
        throw `no ${event.event} here`
    }
    event.properties = { ...event.properties, checked: true }
    return event
}

export function runEveryMinute() {
    throw new Error('task failed')
}
