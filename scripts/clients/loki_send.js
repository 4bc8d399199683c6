#!/usr/bin/env node
'use strict'
// Send N log lines to a Loki push endpoint with a real Loki client library for Node.
//
//   node scripts/clients/loki_send.js --url http://127.0.0.1:PORT --format protobuf|json \
//        --job NAME --count N [--library winston|pino] [--prefix TEXT] [--start I]
//        [--interval SEC] [--timeout MS]
//
// Libraries (installed by scripts/clients/setup.sh into scripts/clients/node/node_modules):
//   winston-loki (a winston transport): --format protobuf -> POST /loki/api/v1/push,
//       Content-Type: application/x-protobuf, body = snappy(logproto.PushRequest) (json: false);
//       --format json -> Content-Type: application/json (json: true).
//   pino-loki (a pino transport): JSON only, Content-Type: application/json.
// Default library: winston for protobuf, pino for json.
//
// Labels: winston-loki sends {level="info",job="NAME"}; pino-loki sends
// {level="info",hostname="<host>",job="NAME"}. Lines are scripts/clients/lines.js (the same
// sequence as the other drivers); pino-loki's logFormat '{msg}' makes each Loki line the plain
// message (pass --pino-json-lines to send pino's whole JSON log object as the line instead).
//
// Batching: by default everything goes in ONE push request, sent when the driver closes the
// transport after the N lines were logged; --interval SEC makes the library's own batch loop
// push every SEC seconds as well.
//
// Exit 0 only when the library reported no error, nothing is left unsent, and (for pino-loki,
// whose only error channel is console.error) every push got a 2xx; prints
// `OK loki library=... format=... lines=N requests=R`. Exit 1 with `FAIL ...` on stderr
// otherwise (including: --format protobuf but winston-loki could not load snappy and would
// silently fall back to JSON); exit 2 on bad arguments.

const path = require('path')
const { once } = require('events')
const nodeModules = path.join(__dirname, 'node', 'node_modules')
const requireDep = name => require(require.resolve(name, { paths: [nodeModules] }))
const { line } = require('./lines.js')

function usage (msg) {
  process.stderr.write(`loki_send.js: ${msg}\n`)
  process.exit(2)
}

function parseArgs (argv) {
  const opts = { format: 'protobuf', count: NaN, prefix: '', start: 0, interval: 0, timeout: 10000, pinoJsonLines: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--url': opts.url = val(); break
      case '--format': opts.format = val(); break
      case '--job': opts.job = val(); break
      case '--count': opts.count = Number(val()); break
      case '--library': opts.library = val(); break
      case '--prefix': opts.prefix = val(); break
      case '--start': opts.start = Number(val()); break
      case '--interval': opts.interval = Number(val()); break
      case '--timeout': opts.timeout = Number(val()); break
      case '--pino-json-lines': opts.pinoJsonLines = true; break
      case '-h': case '--help':
        process.stdout.write('usage: loki_send.js --url URL --format protobuf|json --job NAME --count N ' +
          '[--library winston|pino] [--prefix TEXT] [--start I] [--interval SEC] [--timeout MS] [--pino-json-lines]\n')
        process.exit(0)
        break
      default: usage(`unknown argument ${a}`)
    }
  }
  if (!opts.url) usage('--url is required')
  if (!opts.job) usage('--job is required')
  if (!Number.isInteger(opts.count) || opts.count < 0) usage('--count must be an integer >= 0')
  if (!['protobuf', 'json'].includes(opts.format)) usage('--format must be protobuf or json')
  opts.library = opts.library || (opts.format === 'protobuf' ? 'winston' : 'pino')
  if (!['winston', 'pino'].includes(opts.library)) usage('--library must be winston or pino')
  if (opts.library === 'pino' && opts.format !== 'json') usage('pino-loki only sends JSON (--format json)')
  if (!Number.isInteger(opts.start) || opts.start < 0) usage('--start must be an integer >= 0')
  if (!(opts.interval >= 0) || !(opts.timeout > 0)) usage('--interval must be >= 0 and --timeout > 0')
  return opts
}

function fail (msg) {
  process.stderr.write(`FAIL loki ${msg}\n`)
  process.exit(1)
}

async function sendWinston (opts) {
  const winston = requireDep('winston')
  const LokiTransport = requireDep('winston-loki')
  const json = opts.format === 'json'
  if (!json) {
    // winston-loki silently falls back to JSON when snappy cannot be loaded; refuse that.
    try { requireDep('snappy') } catch (e) { fail(`snappy (winston-loki's optional dependency) cannot be loaded: ${e.message}`) }
  }
  const errors = []
  const transport = new LokiTransport({
    host: opts.url,
    labels: { job: opts.job },
    json,
    batching: true,
    interval: opts.interval > 0 ? opts.interval : 3600,
    gracefulShutdown: false,
    replaceTimestamp: false,
    timeout: opts.timeout,
    format: winston.format.printf(info => info.message),
    onConnectionError: err => errors.push(err)
  })
  const wantType = json ? 'application/json' : 'application/x-protobuf'
  if (transport.batcher.contentType !== wantType) fail(`winston-loki chose ${transport.batcher.contentType}, wanted ${wantType}`)
  const logger = winston.createLogger({ level: 'info', transports: [transport] })

  let logged = 0
  const allLogged = new Promise(resolve => {
    if (opts.count === 0) return resolve()
    transport.on('logged', () => { if (++logged === opts.count) resolve() })
  })
  for (let i = opts.start; i < opts.start + opts.count; i++) {
    logger.log(i % 3 === 2 ? 'warn' : 'info', line(i, opts.prefix))
  }
  await allLogged
  await transport.close() // stops the batch loop and pushes what is left
  const unsent = transport.batcher.batch.streams.reduce((n, s) => n + s.entries.length, 0)
  logger.close()
  const summary = `library=winston-loki format=${opts.format} url=${opts.url} lines=${logged}/${opts.count} unsent=${unsent} errors=${errors.length}`
  if (errors.length || unsent || logged !== opts.count) {
    fail(`${summary}${errors.length ? ' first_error=' + errors[0].message : ''}`)
  }
  return summary
}

async function sendPino (opts) {
  const pino = requireDep('pino')
  const { pinoLoki } = requireDep('pino-loki')
  // pino-loki reports push failures only through console.error; count the responses of the
  // fetch calls it makes instead (the real fetch still does the request).
  const realFetch = globalThis.fetch
  const stats = { requests: 0, ok: 0, bad: [] }
  globalThis.fetch = async (...args) => {
    stats.requests++
    try {
      const res = await realFetch(...args)
      if (res.ok) stats.ok++
      else stats.bad.push(`HTTP ${res.status}`)
      return res
    } catch (e) {
      stats.bad.push(e.cause ? `${e.message}: ${e.cause.message || e.cause}` : e.message)
      throw e
    }
  }
  const stream = pinoLoki({
    host: opts.url,
    labels: { job: opts.job },
    batching: { interval: opts.interval > 0 ? opts.interval : 3600, maxBufferSize: 0 },
    timeout: opts.timeout,
    replaceTimestamp: false,
    silenceErrors: true,
    ...(opts.pinoJsonLines ? {} : { logFormat: '{msg}' })
  })
  const logger = pino({ level: 'info' }, stream)
  for (let i = opts.start; i < opts.start + opts.count; i++) {
    if (i % 3 === 2) logger.warn(line(i, opts.prefix))
    else logger.info(line(i, opts.prefix))
  }
  const closed = once(stream, 'close')
  stream.end() // pino-loki's close() pushes the buffered lines and resolves after the response
  await closed
  globalThis.fetch = realFetch
  const summary = `library=pino-loki format=json url=${opts.url} lines=${opts.count} requests=${stats.requests} ok=${stats.ok}`
  if (stats.bad.length || (opts.count > 0 && stats.ok === 0)) {
    fail(`${summary} failed=${stats.bad.length}${stats.bad.length ? ' first_error=' + stats.bad[0] : ''}`)
  }
  return summary
}

async function main () {
  const opts = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const summary = opts.library === 'winston' ? await sendWinston(opts) : await sendPino(opts)
  process.stdout.write(`OK loki ${summary} ${((Date.now() - started) / 1000).toFixed(2)}s\n`)
  process.exit(0)
}

main().catch(err => fail(`unexpected error: ${err && err.stack ? err.stack : err}`))
