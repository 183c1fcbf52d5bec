const leftPad = require('left-pad')

export function setupPlugin() {
    console.log('never runs')
}
