// N concurrent downloads of one URL, in a process of their own: even-numbered ones read as
// fast as they can, odd ones 64 KiB every 100 ms. Once all N have their 200 (or after 60 s),
// they are held open `seconds` more, then dropped. Prints {started, bytes, seconds}.
import http from 'node:http';

const { url, downloads, seconds } = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: false, maxSockets: downloads });
let started = 0;
let bytes = 0;
const requests = [];
const t0 = performance.now();

function finish() {
  for (const req of requests) req.destroy();
  const elapsed = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ started, bytes, seconds: elapsed }));
  process.exit(0);
}
const giveUp = setTimeout(finish, 60_000);

function onStarted() {
  started++;
  if (started === downloads) {
    clearTimeout(giveUp);
    setTimeout(finish, seconds * 1000);
  }
}

for (let i = 0; i < downloads; i++) {
  const req = http.get(url, { agent }, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      return;
    }
    onStarted();
    if (i % 2 === 0) {
      res.on('data', (chunk) => (bytes += chunk.length));
      return;
    }
    // Slow reader: paused mode, a 64 KiB read every 100 ms.
    res.pause();
    const timer = setInterval(() => {
      const chunk = res.read(65536) ?? res.read();
      if (chunk) bytes += chunk.length;
    }, 100);
    res.on('close', () => clearInterval(timer));
  });
  req.on('error', () => undefined);
  requests.push(req);
}
