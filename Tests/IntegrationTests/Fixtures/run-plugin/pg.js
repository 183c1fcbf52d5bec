// Queries the database its config names; a host the config does not name is refused.
const { Client } = require('pg')

export async function setupPlugin({ config }) {
    const client = new Client({ host: config.host, port: Number(config.port), user: config.user, database: config.database })
    await client.connect()
    const result = await client.query('select 1 as x')
    console.log(`rows ${JSON.stringify(result.rows)}`)
    // Left open on purpose: the run closes it.
    await new Client({ host: config.host, port: Number(config.port), user: config.user, database: config.database }).connect()
    try {
        await new Client({ host: '127.0.0.2', port: Number(config.port), user: config.user }).connect()
    } catch (error) {
        console.log(`refused: ${error.message}`)
    }
    await client.end()
}
