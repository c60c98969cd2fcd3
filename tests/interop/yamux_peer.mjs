// An independent yamux peer for the interop test: @chainsafe/libp2p-yamux (the js-libp2p
// implementation) over a plain TCP socket, no libp2p node around it. The adapter is a
// subclass of @libp2p/utils' AbstractMultiaddrConnection around net.Socket.
//
//   node yamux_peer.mjs (--listen PORT | --connect PORT) --streams N --bytes B --big BIG
//
// It opens N streams of 1..B bytes and 2 of BIG bytes, each carrying its own pattern,
// half-closes each, and checks that exactly those bytes come back before the peer's FIN.
// Every stream the peer opens is echoed, with its FIN forwarded after the last byte. It
// exits 0 once it verified its own N + 2 streams and echoed the peer's N + 2, 1 on any
// error, and 1 after 120 s whatever happens.
import net from 'node:net'
import { yamux } from '@chainsafe/libp2p-yamux'
import { defaultLogger } from '@libp2p/logger'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'

// Node 20 lacks Promise.withResolvers (Node 22 has it); the libp2p streams use it.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const args = process.argv.slice(2)
const opt = (name) => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1] }
const STREAMS = Number(opt('--streams') ?? 100)
const BYTES = Number(opt('--bytes') ?? 65536)
const BIG = Number(opt('--big') ?? (16 << 20))
const logger = defaultLogger()

setTimeout(() => { console.log('node: deadline passed'); process.exit(1) }, 120_000).unref()

// The same pattern as the C driver: byte i of stream k.
function pattern (k, n) {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (k * 31 + i * 7 + (i >>> 8)) & 0xff
  return b
}
const sizeOf = (k) => k < STREAMS ? (k * 7919) % BYTES + 1 : BIG

class SocketConnection extends AbstractMultiaddrConnection {
  constructor (socket, direction) {
    super({
      log: logger.forComponent('interop:socket'),
      direction,
      remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort}`),
      inactivityTimeout: 0
    })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (buf) => this.onData(buf))
    socket.on('end', () => this.onRemoteCloseWrite())
    socket.on('close', () => this.onTransportClosed())
    socket.on('drain', () => this.safeDispatchEvent('drain'))
    socket.on('error', (err) => this.abort(err))
  }

  sendData (data) {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
    }
    return { sentBytes, canSendMore }
  }

  sendReset () { this.socket.resetAndDestroy() }
  sendPause () { this.socket.pause() }
  sendResume () { this.socket.resume() }
  async sendClose () { this.socket.end() }
}

async function writeAll (stream, data) {
  for (let off = 0; off < data.length; off += 65536) {
    if (!stream.send(data.subarray(off, Math.min(off + 65536, data.length)))) {
      await stream.onDrain()
    }
  }
}

async function echo (stream) {
  for await (const chunk of stream) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
}

async function exchange (muxer, k) {
  const stream = await muxer.createStream()
  const want = pattern(k, sizeOf(k))
  const t0 = Date.now()
  const reading = (async () => {
    const got = new Uint8Array(want.length)
    let n = 0
    for await (const chunk of stream) {
      const bytes = chunk.subarray()
      if (n + bytes.length > want.length) throw new Error(`stream ${k}: too many bytes`)
      got.set(bytes, n)
      n += bytes.length
    }
    if (n !== want.length) throw new Error(`stream ${k}: ${n} of ${want.length} bytes`)
    for (let i = 0; i < n; i++) {
      if (got[i] !== want[i]) throw new Error(`stream ${k}: differs at ${i}`)
    }
  })()
  await writeAll(stream, want)
  await stream.close()
  await reading
  if (want.length === BIG) {
    const s = (Date.now() - t0) / 1000
    console.log(`node: stream ${k}: ${BIG >> 20} MiB echoed byte-exact in ${s.toFixed(2)} s`)
  }
}

function run (socket, direction) {
  const muxer = yamux({ enableKeepAlive: true, keepAliveInterval: 1000 })().createStreamMuxer(
    new SocketConnection(socket, direction))
  let echoed = 0
  let verified = 0
  const total = STREAMS + 2
  const maybeDone = () => {
    if (echoed === total && verified === total) {
      console.log(`node: verified ${verified} own streams, echoed ${echoed} of the peer's`)
      setTimeout(() => process.exit(0), 200)
    }
  }
  muxer.addEventListener('stream', (evt) => {
    echo(evt.detail).then(() => { echoed++; maybeDone() }, (err) => {
      console.log(`node: echo failed: ${err.message}`); process.exit(1)
    })
  })
  const jobs = []
  for (let k = 0; k < total; k++) jobs.push(exchange(muxer, k).then(() => { verified++ }))
  Promise.all(jobs).then(maybeDone, (err) => {
    console.log(`node: ${err.message}`); process.exit(1)
  })
}

if (opt('--listen')) {
  const server = net.createServer((socket) => { server.close(); run(socket, 'inbound') })
  server.listen(Number(opt('--listen')), '127.0.0.1', () => console.log('node: listening'))
} else {
  const socket = net.connect(Number(opt('--connect')), '127.0.0.1', () => run(socket, 'outbound'))
  socket.on('error', (err) => { console.log(`node: ${err.message}`); process.exit(1) })
}
