/**
 * The cheapest relay Node can be, measured beside Qiao so the figures can be read on any machine:
 * node:http in front, one undici Pool to the emulator behind, the request body passed on and the
 * answer piped back as it comes. No auth, no validation, no limits, no money, no logging.
 * `node bench/bare-relay.mjs <emulator url> <upstream key>` prints `{"url": …}` on its first line;
 * it answers POST /v1/chat/completions like the emulator's compatible-mode endpoint.
 */
import { createServer } from 'node:http'
import { Pool } from 'undici'

const [upstream, key] = process.argv.slice(2)
const pool = new Pool(upstream, { connections: 128 })

const server = createServer(async (req, res) => {
  try {
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const answer = await pool.request({
      method: 'POST',
      path: '/compatible-mode/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: Buffer.concat(chunks),
    })
    res.writeHead(answer.statusCode, { 'content-type': answer.headers['content-type'] ?? 'application/json' })
    for await (const chunk of answer.body) res.write(chunk)
    res.end()
  } catch (err) {
    res.writeHead(502).end(String(err))
  }
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })))
const stop = () => server.close(() => pool.close().then(() => process.exit(0)))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
