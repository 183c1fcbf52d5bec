// Exports only a function of a later plugin API: it loads, and nothing of it is ever called.
export function composeWebhook(event) {
    return { url: 'https://example.com/hook', body: JSON.stringify(event) }
}
