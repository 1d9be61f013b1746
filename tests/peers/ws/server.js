'use strict';
// A node `ws` server that misbehaves on purpose, for the gateway's integration tests
// (tests/Gateway.IntegrationTests/Transport/NodeWsPeerTests.cs).
//
//   node server.js            listens on 127.0.0.1, a free port; prints "listening <port>" on stdout
//
// The URL path picks the behaviour: /<anything>/<mode>, e.g. /t42/invalid-utf8 (the prefix keeps
// tests apart). On every path the first connection sends "hello 1" and then does what the mode says;
// later connections send "hello <n>", echo what they receive and stay open, so a test also sees the
// gateway reconnect. GET /stats/<prefix>/<mode> answers JSON: connections, the close frames the server
// received (code, reason), the payloads of the pongs received, and the permessage-deflate answer of each connection.
// The process exits when its stdin closes (the test process is gone).
const http = require('http');
const { WebSocketServer } = require('ws');

const deflateModes = {
  'deflate': { threshold: 0 },
  'deflate-no-context': { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
  'deflate-window': { threshold: 0, serverMaxWindowBits: 9 },
};

// One server per permessage-deflate configuration (noServer: the HTTP server below routes upgrades).
const servers = new Map();
const answers = new WeakMap();
function serverFor(mode) {
  const key = deflateModes[mode] ? mode : mode === 'no-pong' ? 'no-pong' : 'plain';
  if (!servers.has(key)) {
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: deflateModes[key] || false,
      autoPong: key !== 'no-pong',
      maxPayload: 64 * 1024 * 1024,
    });
    // The server's permessage-deflate answer, as sent in the 101 response.
    wss.on('headers', (headers, req) => {
      const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
      answers.set(req, line ? line.slice(line.indexOf(':') + 1).trim() : '');
    });
    servers.set(key, wss);
  }
  return servers.get(key);
}

const stats = new Map();
function statsFor(path) {
  if (!stats.has(path)) {
    stats.set(path, { connections: 0, closes: [], pongs: [], extensions: [], received: [] });
  }
  return stats.get(path);
}

// Frames written on the raw socket, past ws's own checks (a server's frames are never masked, except here).
function frame(first, payload, mask) {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([first, length]) : Buffer.from([first, 126, length >> 8, length & 0xff]);
  if (!mask) {
    return Buffer.concat([header, payload]);
  }
  header[1] |= 0x80;
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  return Buffer.concat([header, key, Buffer.from(payload.map((b, i) => b ^ key[i & 3]))]);
}

const closeFrame = (code, reason = '') => {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return frame(0x88, payload);
};

function misbehave(mode, ws, socket, url) {
  switch (mode) {
    case 'echo':
    case 'deflate':
    case 'deflate-no-context':
    case 'deflate-window':
      break; // behaves: echoes (deflate modes compress)
    case 'broadcast': {
      const count = Number(url.searchParams.get('count') || 100);
      for (let i = 1; i <= count; i++) {
        ws.send(i % 10 === 0 ? Buffer.from([i & 0xff, 0, 1, 2]) : `tick ${i}`);
      }
      break;
    }
    case 'fragmented': {
      // "part one|part two|part three" in three fragments, a ping before each continuation.
      ws.send('part one|', { fin: false });
      ws.ping('between 1');
      ws.send('part two|', { fin: false });
      ws.ping('between 2');
      ws.send('part three', { fin: true });
      // A binary message in 200 fragments of 1 KiB.
      for (let i = 0; i < 200; i++) {
        ws.send(Buffer.alloc(1024, i & 0xff), { fin: i === 199, binary: true });
      }
      break;
    }
    case 'invalid-utf8':
      socket.write(frame(0x81, Buffer.from([0x68, 0x69, 0xc3, 0x28])));
      break;
    case 'invalid-utf8-split':
      // U+1F600 cut by an invalid byte, across two fragments.
      socket.write(frame(0x01, Buffer.from([0x68, 0xf0, 0x9f])));
      socket.write(frame(0x80, Buffer.from([0x98, 0x41])));
      break;
    case 'bad-close-code':
      socket.write(closeFrame(1005, 'not on the wire'));
      break;
    case 'oversize': {
      const size = Number(url.searchParams.get('size') || 200000);
      ws.send(Buffer.alloc(size, 0x61), { binary: true });
      break;
    }
    case 'masked':
      socket.write(frame(0x81, Buffer.from('masked by the server'), true));
      break;
    case 'no-pong':
      break; // autoPong is off on this server: the gateway's pings go unanswered
    case 'tcp-close':
      setTimeout(() => ws.terminate(), 50); // no close frame: the TCP connection just ends
      break;
    case 'close-then-send':
      // In one write, so that the gateway reads it all before it closes (a socket closed with unread bytes sends a
      // TCP reset, and a reset can destroy the gateway's close echo before ws reads it); then more, later.
      socket.write(Buffer.concat([closeFrame(4001, 'going'), frame(0x81, Buffer.from('after close 1')), frame(0x82, Buffer.from('after close 2'))]));
      setTimeout(() => { if (!socket.destroyed) socket.write(frame(0x81, Buffer.from('after close 3'))); }, 20);
      break;
    default:
      ws.close(4404, `unknown mode ${mode}`);
      break;
  }
}

const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname.startsWith('/stats/')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(statsFor(url.pathname.slice('/stats'.length))));
    return;
  }
  res.writeHead(404);
  res.end();
});

httpServer.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const mode = url.pathname.split('/').pop();
  const wss = serverFor(mode);
  wss.handleUpgrade(req, socket, head, (ws) => {
    const s = statsFor(url.pathname);
    const n = ++s.connections;
    const answer = answers.get(req) || '';
    s.extensions.push(answer);
    ws.on('pong', (data) => { s.pongs.push(data.toString()); });
    if (mode === 'no-pong' && n > 1) {
      ws.on('ping', (data) => ws.pong(data));
    }
    ws.on('close', (code, reason) => { s.closes.push({ connection: n, code, reason: reason.toString() }); });
    ws.on('error', () => {}); // a peer that breaks the protocol on purpose sees errors; the stats say what happened
    ws.on('message', (data, isBinary) => {
      s.received.push(isBinary ? `binary ${data.length}` : data.length > 200 ? `text ${data.length}` : data.toString());
      if (ws.readyState === ws.OPEN) {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.send(`hello ${n}${answer ? ` (${answer})` : ''}`);
    if (n === 1) {
      misbehave(mode, ws, ws._socket, url);
    }
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
