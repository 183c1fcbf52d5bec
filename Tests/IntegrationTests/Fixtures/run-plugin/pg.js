// Queries the database its config names; a host the config does not name is refused; failures carry
// node-postgres' messages and codes; dates come back as Dates and arrays as arrays.
const { Client } = require('pg')

export async function setupPlugin({ config }) {
    const client = new Client({ host: config.host, port: Number(config.port), user: config.user, database: config.database })
    await client.connect()
    const result = await client.query('select 1 as x')
    console.log(`rows ${JSON.stringify(result.rows)}`)
    const typed = await client.query(
        "select '2021-05-04T03:02:01.5Z'::timestamptz as at, '2021-05-04'::date as day, array[1, 2] as ints, array['a', 'b'] as texts, array[3]::int8[] as bigs")
    const row = typed.rows[0]
    console.log(`types ${row.at instanceof Date} ${row.at.toISOString()} ${row.day.toISOString()} ${JSON.stringify([row.ints, row.texts, row.bigs])}`)
    try {
        await client.query('selec 1')
    } catch (error) {
        console.log(`query: ${error.name} ${error.code} ${error.severity} ${error.position} ${error.message}`)
    }
    // Left open on purpose: the run closes it.
    await new Client({ host: config.host, port: Number(config.port), user: config.user, database: config.database }).connect()
    for (const options of [{ host: '127.0.0.2' }, { host: config.host, port: 1 }, { host: config.host, database: 'no_such_database' }]) {
        try {
            await new Client({ port: Number(config.port), user: config.user, ...options }).connect()
        } catch (error) {
            console.log(`refused: ${error.code} ${error.message}`)
        }
    }
    await client.end()
}
