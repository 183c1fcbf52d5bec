// Calls PostHog's API with no keys of its own, with only a host, and with keys of its own.
export async function runEveryMinute({ config }) {
    const plain = await posthog.api.get('/api/projects/@current')
    console.log(`plain ${plain.status}`)
    const hosted = await posthog.api.get('/api/hosted', { host: config.otherHost })
    console.log(`hosted ${hosted.status}`)
    const own = await posthog.api.post('/api/own', { data: { a: 1 }, projectApiKey: 'own-project', personalApiKey: 'own-personal' })
    console.log(`own ${own.status}`)
}
