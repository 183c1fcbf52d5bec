// A single-file TypeScript plugin using processEventBatch: amounts in cents become a `revenue` number.
interface PluginEvent {
    event: string
    distinct_id: string
    properties?: Record<string, any>
}

interface Meta {
    config: { currency?: string }
}

export async function processEventBatch(events: PluginEvent[], { config }: Meta): Promise<PluginEvent[]> {
    const currency: string = config.currency || 'USD'
    return events.map((event) => {
        const cents = event.properties?.amount_cents
        if (typeof cents === 'number') {
            event.properties = { ...event.properties, revenue: cents / 100, currency }
        }
        return event
    })
}
