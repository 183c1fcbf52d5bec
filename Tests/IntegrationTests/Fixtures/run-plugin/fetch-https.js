// Fetches an https URL and says what came back, or why it failed.
export async function runEveryMinute({ config }) {
    try {
        const response = await fetch(config.url)
        console.log(`fetched ${response.status} ${await response.text()}`)
    } catch (error) {
        console.log(`failed ${error.name} ${error.message}`)
    }
}
