// Jobs under run-plugin: run with --job, enqueued by processEvent or by another job and, with
// --run-jobs, run after the step that enqueued them.
exports.jobs = {
    // Called as jobs.greet(meta) when it has no payload, as the server calls a job with a falsy one.
    greet: async (payload) => {
        console.log('greet ' + (payload && payload.config ? 'with meta' : payload.from))
    },
    countdown: async (payload, { jobs }) => {
        console.log('countdown ' + payload.n)
        if (payload.n > 0) await jobs.countdown({ n: payload.n - 1 }).runIn(payload.n, 'minutes')
    },
    forever: async (payload, { jobs }) => {
        await jobs.forever({}).runNow()
    },
    pair: async (payload, { jobs }) => {
        await jobs.greet({ from: 'later' }).runIn(30, 'seconds')
        await jobs.greet({ from: 'sooner' }).runNow()
    },
    fail: async () => {
        throw new Error('job failed')
    },
}

exports.processEvent = async (event, { jobs }) => {
    if (event.event === 'later') await jobs.greet({ from: event.distinct_id }).runIn(30, 'seconds')
    if (event.event === 'now') await jobs.greet({ from: event.distinct_id }).runNow()
    return event
}
