// The lab's submissions come from loopback: relay them all. Haraka queues
// relayed mail for outbound delivery itself.
exports.hook_connect = function (next, connection) {
    connection.relaying = true
    next()
}
exports.hook_rcpt = function (next) {
    next(OK)
}
