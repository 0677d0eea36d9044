import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { decodeBatch } from '../../lib/mem-prot-alert';
import { get, Server } from 'node:http';
import { connect, Socket } from 'node:net';
import { once } from 'node:events';
import { METRICS_SERVER_LIMITS, parseListenAddress, sensorMetrics, serveMetrics, statMetricName } from '../../lib/metrics';
import { Sensor, SensorStats } from '../../lib/sensor';
import { TRC104 } from '../../lib/signatures/trc104';
import { batch, record } from '../helpers/records';

/** The value of one sample line in Prometheus text, e.g. 'wxwatch_seen_total'. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A stand-in with a sensor's events and a stats() the test sets. */
function fakeSensor(stats: Record<string, number>): Sensor {
  return Object.assign(new EventEmitter(), { stats: () => ({ ...stats }) as unknown as SensorStats }) as unknown as Sensor;
}

describe('metrics', () => {
  it('names stats() fields the Prometheus way', () => {
    assert.equal(statMetricName('seen'), 'wxwatch_seen_total');
    assert.equal(statMetricName('listenerErrors'), 'wxwatch_listener_errors_total');
    assert.equal(statMetricName('vmaTruncated'), 'wxwatch_vma_truncated_total');
    assert.equal(statMetricName('inFlight'), 'wxwatch_in_flight');
  });

  it("exposes every field of an idle sensor's stats()", async () => {
    const metrics = sensorMetrics(new Sensor());
    const text = await metrics.registry.metrics();
    for (const name of ['seen', 'emitted', 'filtered', 'suppressed', 'lost', 'batches', 'listener_errors']) {
      assert.equal(sample(text, `wxwatch_${name}_total`), 0, name);
      assert.match(text, new RegExp(`# TYPE wxwatch_${name}_total counter`));
    }
    assert.equal(sample(text, 'wxwatch_in_flight'), 0);
    assert.match(text, /# TYPE wxwatch_in_flight gauge/);
    assert.equal(sample(text, 'wxwatch_findings_total{signature="TRC-104"}'), 0);
    assert.match(text, /# TYPE wxwatch_delivery_delay_seconds histogram/);
    assert.doesNotMatch(text, /^wxwatch_findings_total /m, 'findings are per signature only');
  });

  it('never exposes a NaN: stats() fields that are not numbers have no counter of their own', async () => {
    const metrics = sensorMetrics(fakeSensor({ seen: 1, findingsBySignature: { 'TRC-104': 2 } as unknown as number }));
    const text = await metrics.registry.metrics();
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(samples.length > 0);
    for (const line of samples) assert.ok(Number.isFinite(Number(line.slice(line.lastIndexOf(' ') + 1))), line);
    assert.doesNotMatch(text, /findings_by_signature/);
    // An idle sensor's own stats() too.
    const idle = await sensorMetrics(new Sensor()).registry.metrics();
    assert.doesNotMatch(idle, /findings_by_signature|\bNaN\b|\bNan\b/);
  });

  it('reads stats() at scrape time, and shows fields that appear later', async () => {
    const books: Record<string, number> = { seen: 5, emitted: 3, lost: 2, inFlight: 0 };
    const metrics = sensorMetrics(fakeSensor(books));
    assert.equal(sample(await metrics.registry.metrics(), 'wxwatch_seen_total'), 5);
    books.seen = 9;
    books.degraded = 4;
    await new Promise((r) => setImmediate(r));
    const first = await metrics.registry.metrics();
    assert.equal(sample(first, 'wxwatch_seen_total'), 9);
    await new Promise((r) => setImmediate(r));
    assert.equal(sample(await metrics.registry.metrics(), 'wxwatch_degraded_total'), 4);
  });

  it('counts findings per signature, their delay, the mode and dropped output', async () => {
    const sensor = fakeSensor({ seen: 0 });
    const metrics = sensorMetrics(sensor, { registry: new Registry() });
    const [event] = decodeBatch(batch(record({})), 1, 0n);
    // A kernel timestamp 20 ms ago, in epoch ns.
    const ts = BigInt(Math.round((Date.now() - 20) * 1e6));
    const finding = { SigMetadata: TRC104.metadata, Event: Object.create(event, { timestamp: { value: ts } }), Data: null };
    sensor.emit('finding', finding);
    sensor.emit('finding', finding);
    metrics.setMode('lsm-hook (kprobe)');
    metrics.setMode('tracepoint');
    metrics.outputDropped('file', 3);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'wxwatch_findings_total{signature="TRC-104"}'), 2);
    assert.equal(sample(text, 'wxwatch_delivery_delay_seconds_count'), 2);
    assert.equal(sample(text, 'wxwatch_delivery_delay_seconds_bucket{le="0.01"}'), 0);
    assert.equal(sample(text, 'wxwatch_delivery_delay_seconds_bucket{le="0.025"}'), 2);
    assert.equal(sample(text, 'wxwatch_mode{mode="tracepoint"}'), 1);
    assert.equal(sample(text, 'wxwatch_mode{mode="lsm-hook (kprobe)"}'), undefined);
    assert.equal(sample(text, 'wxwatch_output_dropped_total{output="file"}'), 3);
    metrics.detach();
    sensor.emit('finding', finding);
    assert.equal(sample(await metrics.registry.metrics(), 'wxwatch_findings_total{signature="TRC-104"}'), 2);
  });

  it('parses --metrics addresses, loopback by default', () => {
    assert.deepEqual(parseListenAddress('9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListenAddress(':9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListenAddress('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(parseListenAddress('[::1]:9464'), { host: '::1', port: 9464 });
    assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
    for (const bad of ['', 'host', 'host:', '1.2.3.4:70000', '::1:9464', 'a:b:1']) {
      assert.throws(() => parseListenAddress(bad), TypeError, bad);
    }
  });

  describe('the HTTP endpoint', function () {
    this.timeout(30000);
    /** A TCP connection that sends nothing; `closed` resolves with what it received when the server closes it. */
    async function idle(port: number): Promise<{ socket: Socket; closed: Promise<string> }> {
      const socket = connect(port, '127.0.0.1');
      let got = '';
      socket.on('data', (d) => (got += d));
      socket.on('error', () => {});
      const closed = once(socket, 'close').then(() => got);
      await once(socket, 'connect');
      return { socket, closed };
    }
    const scrape = (port: number) =>
      new Promise<number>((resolve, reject) => get(`http://127.0.0.1:${port}/metrics`, (res) => resolve(res.resume().statusCode!)).on('error', reject));
    const connections = (server: Server) => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

    it('closes an idle connection by itself', async () => {
      const { server } = await serveMetrics(new Registry(), { host: '127.0.0.1', port: 0 });
      try {
        const port = (server.address() as { port: number }).port;
        const conn = await idle(port);
        // Bounded by the test's timeout: before the limits, idle connections stayed open past 75 s.
        assert.equal(await conn.closed, '');
      } finally {
        server.close();
      }
    });

    it('refuses connections past its cap, and answers again once they are gone', async () => {
      const { server } = await serveMetrics(new Registry(), { host: '127.0.0.1', port: 0 });
      const open: Socket[] = [];
      try {
        const port = (server.address() as { port: number }).port;
        for (let i = 0; i < METRICS_SERVER_LIMITS.maxConnections; i++) open.push((await idle(port)).socket);
        const extra = await idle(port);
        assert.equal(await extra.closed, '', 'closed without an answer');
        for (const s of open) s.destroy();
        // The server counts a connection gone once it has seen it close.
        while ((await connections(server)) > 0) await new Promise((r) => setTimeout(r, 10));
        assert.equal(await scrape(port), 200);
      } finally {
        for (const s of open) s.destroy();
        server.close();
      }
    });
  });
});
