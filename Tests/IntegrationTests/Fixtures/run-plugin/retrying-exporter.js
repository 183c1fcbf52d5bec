// An exporter whose receiver is never ready: exportEvents throws RetryError, the server would retry
// through the job queue; run-plugin shows the retry job and does not run it.
const { RetryError } = require('@posthog/plugin-scaffold')

exports.metrics = { attempts: 'sum' }

exports.exportEvents = async function (events, { metrics }) {
    metrics.attempts.increment(1)
    console.log(`receiver not ready for ${events.length} events`)
    throw new RetryError('receiver not ready')
}
