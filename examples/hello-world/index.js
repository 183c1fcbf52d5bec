// A plugin touching every entry point run-plugin shows: processEvent, onEvent, exportEvents,
// runEveryMinute, posthog.capture, meta.cache and meta.storage.

export async function setupPlugin({ config, global }) {
    global.greeting = config.greeting
    console.log(`greeting events with "${config.greeting}"`)
}

export async function processEvent(event, { global }) {
    if (event.event === 'ignore me') {
        return null // dropped: not ingested, no onEvent
    }
    event.properties = { ...event.properties, greeting: global.greeting }
    return event
}

export async function onEvent(event, { cache }) {
    const seen = await cache.incr('seen')
    console.log(`saw ${event.event} (${seen} so far)`)
}

export async function exportEvents(events, { storage }) {
    const exported = ((await storage.get('exported')) || 0) + events.length
    await storage.set('exported', exported)
    console.info(`exported ${events.map((e) => e.event).join(', ')}`)
}

export async function runEveryMinute({ cache }) {
    const seen = (await cache.get('seen')) || 0
    posthog.capture('hello world report', { seen })
}
