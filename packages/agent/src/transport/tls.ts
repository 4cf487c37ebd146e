/**
 * TLS trust for the collector link. The collector makes its own CA on first start and prints
 * the CA's SHA-256 fingerprint; the operator gives it to the agent (`--ca-fingerprint`). The
 * agent then fetches the chain once, checks that the pinned CA issued the server certificate,
 * and from then on trusts that CA alone (kept in its state file).
 */
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { AgentError } from '../errors.js';
import { pemWrap } from '../pem.js';

export function normalizeFingerprint(fp: string): string {
  return fp.replace(/^sha256[:=]/i, '').replace(/[^0-9a-fA-F]/g, '').toLowerCase();
}

/**
 * Connects without trusting, walks the presented chain, and returns the PEM of the CA whose
 * SHA-256 fingerprint equals `pin`, after checking it really issued the server's certificate.
 */
export async function fetchPinnedCa(host: string, port: number, pin: string, timeoutMs = 10_000): Promise<string> {
  const want = normalizeFingerprint(pin);
  const chain = await new Promise<tls.DetailedPeerCertificate>((resolve, reject) => {
    const sock = tls.connect({ host, port, servername: tlsServerName(host), rejectUnauthorized: false, timeout: timeoutMs }, () => {
      const cert = sock.getPeerCertificate(true);
      sock.end();
      resolve(cert);
    });
    sock.on('timeout', () => { sock.destroy(); reject(new AgentError('CW_TRANSPORT_CONNECT', `TLS handshake with ${host}:${port} timed out`)); });
    sock.on('error', (err) => reject(new AgentError('CW_TRANSPORT_CONNECT', `${host}:${port}: ${err.message}`)));
  });
  if (!chain.raw) throw new AgentError('CW_TRANSPORT_TLS_PIN', 'server presented no certificate');
  const leaf = new X509Certificate(chain.raw);
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = chain; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    if (normalizeFingerprint(c.fingerprint256) !== want) continue;
    const ca = new X509Certificate(c.raw);
    if (!ca.ca) throw new AgentError('CW_TRANSPORT_TLS_PIN', 'pinned certificate is not a CA');
    if (leaf.fingerprint256 !== ca.fingerprint256 && !(leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) {
      throw new AgentError('CW_TRANSPORT_TLS_PIN', 'server certificate is not signed by the pinned CA');
    }
    return pemWrap('CERTIFICATE', c.raw);
  }
  throw new AgentError('CW_TRANSPORT_TLS_PIN', `collector CA fingerprint does not match the pin ${want.slice(0, 16)}…; refusing to connect`);
}

/** SNI must not be an IP address. */
export function tlsServerName(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}

const TLS_VERIFY_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER/;

/**
 * A certificate-verification failure is not a network blip: retrying cannot fix it and it may
 * be an impostor. Turns such errors into CW_TRANSPORT_TLS_PIN (fatal); others → null.
 * `pinned` says whether a CA was given (--ca-file, --ca-fingerprint, or one pinned on an earlier
 * run): without one the host's CA store judged, and the message says how to give one.
 */
export function tlsVerifyFailure(err: unknown, pinned: boolean): AgentError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !TLS_VERIFY_CODES.test(code)) return null;
  if (!pinned) {
    return new AgentError('CW_TRANSPORT_TLS_PIN', `the collector's certificate is not trusted by this host's CA store (${code}) and no collector CA is pinned; `
      + 'refusing to connect. Give --ca-fingerprint (kept in the agent state after the first connection) or --ca-file (read on every run, not kept)');
  }
  return new AgentError('CW_TRANSPORT_TLS_PIN', `the collector's certificate is not issued by the pinned CA (${code}); refusing to connect`);
}
