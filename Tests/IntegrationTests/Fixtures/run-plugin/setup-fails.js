export async function setupPlugin({ config }) {
    if (!config.apiKey) throw new Error('apiKey is required')
}

export function processEvent(event, { config }) {
    console.log(`key ${config.apiKey}`)
    return event
}
