// Calls PostHog's API with no keys of its own, with only a host, and with keys of its own.
export async function runEveryMinute({ config }) {
    const plain = await posthog.api.get('/api/projects/@current')
    console.log(`plain ${plain.status}`)
    // A path with a query of its own gets the token after an `&`.
    const hosted = await posthog.api.get('/api/hosted?email=a@b.com', { host: config.otherHost })
    console.log(`hosted ${hosted.status}`)
    const own = await posthog.api.post('/api/own', { data: { a: 1 }, projectApiKey: 'own-project', personalApiKey: 'own-personal' })
    console.log(`own ${own.status}`)
}
