/**
 * The link loop stops whenever it is told to, including when the stop arrives while a session
 * is being opened or a token rotated (the `--once` run whose spool the welcome settled used to
 * wait forever on an abort listener added after the abort), and it reconnects otherwise.
 */
import t from 'tap';
import pino from 'pino';
import { linkLoop, sleep, aborted, isFatal, type LinkClient } from '../../src/transport/link.js';
import { AgentError } from '../../src/errors.js';
import type { Session } from '../../src/transport/session.js';

const log = pino({ level: 'silent' });
const hooks = { onRescan: () => {}, onInterval: () => {}, onCpu: () => {} };

/** A session that stays open until closed, recording how. */
function fakeSession(rotate = false): Session & { closedWith: number[] } {
  let end!: (e: Error) => void;
  const done = new Promise<Error>((r) => { end = r; });
  const s = {
    onRescan: null, onConfig: null, rotateRequested: rotate, hostId: 'h', closedWith: [] as number[],
    done: () => done,
    close(code: number) { s.closedWith.push(code); end(new AgentError('CW_TRANSPORT_CONNECT', `closed ${code}`)); },
  };
  return s as unknown as Session & { closedWith: number[] };
}

/** Fails the test instead of hanging it. */
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms).unref())]);

t.test('a stop that lands while connect() is resolving ends the loop at once', async (t) => {
  const ac = new AbortController();
  const session = fakeSession();
  // What the welcome does when its last_seq covers the whole spool: the spool drains, `--once`
  // aborts the link, and only then does connect() hand the session over.
  const client: LinkClient = { connect: async () => { ac.abort(); return session; }, rotate: async () => {} };
  await within(linkLoop(client, log, ac.signal, 100, hooks), 2000, 'link loop');
  t.same(session.closedWith, [1001], 'the session is closed as "agent stopping"');
});

t.test('a stop during token rotation ends the loop after the rotation', async (t) => {
  const ac = new AbortController();
  const session = fakeSession(true);
  let rotated = 0;
  const client: LinkClient = { connect: async () => session, rotate: async () => { rotated++; ac.abort(); } };
  await within(linkLoop(client, log, ac.signal, 100, hooks), 2000, 'link loop');
  t.equal(rotated, 1);
  t.equal(session.closedWith[0], 1000, 'closed as "token rotated" first');
});

t.test('a lost session is reopened; a stop during the backoff ends the loop', async (t) => {
  const ac = new AbortController();
  const sessions: Array<ReturnType<typeof fakeSession>> = [];
  const client: LinkClient = {
    connect: async () => {
      const s = fakeSession();
      sessions.push(s);
      if (sessions.length === 1) setTimeout(() => s.close(1006), 5);
      else setTimeout(() => ac.abort(), 5);
      return s;
    },
    rotate: async () => {},
  };
  await within(linkLoop(client, log, ac.signal, 50, hooks), 5000, 'link loop');
  t.equal(sessions.length, 2, 'reconnected once after the first session was lost');
  t.same(sessions[1]!.closedWith, [1001]);
});

t.test('fatal errors end the loop with the error; others are retried', async (t) => {
  const ac = new AbortController();
  let calls = 0;
  const client: LinkClient = {
    connect: async () => {
      calls++;
      if (calls < 3) throw new AgentError('CW_TRANSPORT_CONNECT', 'refused');
      throw new AgentError('CW_TRANSPORT_IDENTITY', 'HTTP 401');
    },
    rotate: async () => {},
  };
  await t.rejects(within(linkLoop(client, log, ac.signal, 20, hooks), 5000, 'link loop'), { code: 'CW_TRANSPORT_IDENTITY' });
  t.equal(calls, 3);
  t.ok(isFatal(new AgentError('CW_TRANSPORT_TLS_PIN', 'x')));
  t.notOk(isFatal(new Error('x')));
});

t.test('waits honour a signal that is already aborted', async (t) => {
  const ac = new AbortController();
  ac.abort();
  const started = Date.now();
  await within(sleep(60_000, ac.signal), 1000, 'sleep');
  await within(aborted(ac.signal), 1000, 'aborted');
  t.ok(Date.now() - started < 500);
  const live = new AbortController();
  const s = sleep(60_000, live.signal);
  setTimeout(() => live.abort(), 10);
  await within(s, 1000, 'sleep cut short by a later abort');
  const t0 = Date.now();
  await sleep(30, new AbortController().signal);
  t.ok(Date.now() - t0 >= 25, 'an unaborted sleep lasts its time');
});
