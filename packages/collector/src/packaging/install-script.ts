/**
 * The text of /install/agent.sh: a POSIX sh installer that trusts nothing it downloads until
 * it has checked it (trust chain, also in docs/deployment.md):
 *
 *   operator's pin (--ca-fingerprint, out of band) ─▶ CA certificate the server presents
 *     ─▶ TLS to the collector (curl --cacert that CA) ─▶ manifest.json, verified with the
 *        Ed25519 public key embedded in this script ─▶ package SHA-256 from the manifest ─▶ install
 *
 * The script itself arrives before any of that. Fetched with `curl -k`, it is only as genuine
 * as the network path; the verified one-liner checks its SHA-256 (printed by `package agent`)
 * before running it, which closes that gap. Only curl, openssl and sh are needed.
 * The manifest is JSON written one file per line by manifest.ts, so sed can read it safely
 * after the signature has been checked.
 */

export interface InstallScriptOptions {
  collector: string;
  caFingerprint: string;
  signingPublicPem: string;
  signingFingerprint: string;
  version: string;
  created: string;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function installScript(o: InstallScriptOptions): string {
  return `#!/bin/sh
# chainwatch agent installer ${o.version}, generated ${o.created} by \`chainwatch-collector package agent\`.
# usage: sh agent.sh --ca-fingerprint FP [--format deb|rpm|tar] [--root DIR] [--download-only DIR]
# Trust chain: the CA pin you pass -> the certificate the collector presents -> TLS (curl --cacert)
# -> manifest.json signed by the collector's Ed25519 key (pinned below) -> package SHA-256 -> install.
# Nothing is installed unless every step matches. See docs/deployment.md.
set -eu
COLLECTOR=${shq(o.collector)}
EXPECTED_CA=${shq(o.caFingerprint)}
SIGNING_KEY_FP=${shq(o.signingFingerprint)}
SIGNING_KEY=${shq(o.signingPublicPem.trim())}

die() { echo "chainwatch install: REFUSED: $*" >&2; exit 1; }
say() { echo "chainwatch install: $*" >&2; }
usage() { sed -n '3p' "$0" 2>/dev/null || true; }

PIN=''; FORMAT=auto; ROOT=''; ONLY=''
while [ $# -gt 0 ]; do
  case "$1" in
    --ca-fingerprint) PIN="\${2:-}"; shift 2 ;;
    --format) FORMAT="\${2:-}"; shift 2 ;;
    --root) ROOT="\${2:-}"; shift 2 ;;
    --download-only) ONLY="\${2:-}"; shift 2 ;;
    -h|--help) echo "usage: agent.sh --ca-fingerprint FP [--format deb|rpm|tar] [--root DIR] [--download-only DIR]"; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
[ -n "$PIN" ] || die "--ca-fingerprint FP is required (chainwatch-collector prints it; get it out of band)"
PIN=$(printf '%s' "$PIN" | tr -d ':' | tr 'ABCDEF' 'abcdef')
case "$PIN" in *[!0-9a-f]*) die "--ca-fingerprint must be 64 hex digits" ;; esac
[ \${#PIN} -eq 64 ] || die "--ca-fingerprint must be 64 hex digits"
[ "$PIN" = "$EXPECTED_CA" ] || die "this installer belongs to CA $EXPECTED_CA, not to the pinned $PIN"
case "$FORMAT" in auto|deb|rpm|tar) ;; *) die "--format must be deb, rpm or tar" ;; esac
for t in curl openssl sed awk; do command -v "$t" >/dev/null 2>&1 || die "$t is needed"; done

W=$(mktemp -d); trap 'rm -rf "$W"' EXIT INT TERM
HOSTPORT=\${COLLECTOR#https://}; HOSTPORT=\${HOSTPORT%%/*}; HOST=\${HOSTPORT%:*}

# 1. The CA: among the certificates the server presents, the one whose SHA-256 is the pin.
case "$HOST" in *[!0-9.]*) SNI="-servername $HOST" ;; *) SNI='' ;; esac
# shellcheck disable=SC2086
openssl s_client -connect "$HOSTPORT" $SNI -showcerts </dev/null >"$W/chain.txt" 2>/dev/null || true
awk -v d="$W" '/-----BEGIN CERTIFICATE-----/{n++; f=d "/cert" n ".pem"} f{print > f} /-----END CERTIFICATE-----/{if (f) close(f); f=""}' "$W/chain.txt"
CA=''
for c in "$W"/cert*.pem; do
  [ -f "$c" ] || continue
  fp=$(openssl x509 -in "$c" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
  if [ "$fp" = "$PIN" ]; then CA="$c"; fi
done
[ -n "$CA" ] || die "no certificate presented by $HOSTPORT has SHA-256 $PIN (wrong collector, or interception)"
say "collector CA matches the pin"

fetch() { curl -fsS --proto '=https' --cacert "$CA" --connect-timeout 20 --max-time 900 -o "$2" "$COLLECTOR$1" || die "could not fetch $1 over TLS verified against the pinned CA"; }

# 2. The manifest, signed by the collector's key embedded in this script.
fetch /install/manifest.json "$W/manifest.json"
fetch /install/manifest.sig "$W/manifest.sig"
printf '%s\\n' "$SIGNING_KEY" >"$W/signing.pem"
openssl pkeyutl -verify -pubin -inkey "$W/signing.pem" -rawin -in "$W/manifest.json" -sigfile "$W/manifest.sig" >/dev/null 2>&1 \\
  || die "manifest signature does not verify with the pinned signing key $SIGNING_KEY_FP"
grep -q "^  \\"ca_fingerprint\\": \\"$PIN\\",\\$" "$W/manifest.json" || die "the signed manifest names another CA"
say "manifest signature verified (key $SIGNING_KEY_FP)"

# 3. The package for this system, checked against the manifest's SHA-256.
if [ "$FORMAT" = auto ]; then
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "packages are for Linux x86_64; on macOS/Windows see docs/deployment.md"
  if command -v dpkg >/dev/null 2>&1 && [ -d "\${ROOT:-}/var/lib/dpkg" ]; then FORMAT=deb
  elif command -v rpm >/dev/null 2>&1 && [ ! -d "\${ROOT:-}/var/lib/dpkg" ]; then FORMAT=rpm
  else FORMAT=tar; fi
fi
LINE=$(grep "\\"format\\":\\"$FORMAT\\"" "$W/manifest.json" | head -n 1)
[ -n "$LINE" ] || die "the manifest lists no $FORMAT package"
NAME=$(printf '%s' "$LINE" | sed -n 's/.*"name":"\\([A-Za-z0-9][A-Za-z0-9._+-]*\\)".*/\\1/p')
SUM=$(printf '%s' "$LINE" | sed -n 's/.*"sha256":"\\([0-9a-f]\\{64\\}\\)".*/\\1/p')
[ -n "$NAME" ] && [ -n "$SUM" ] || die "malformed manifest entry"
fetch "/install/packages/$NAME" "$W/$NAME"
GOT=$(openssl dgst -sha256 -r "$W/$NAME" | cut -d' ' -f1)
[ "$GOT" = "$SUM" ] || die "$NAME has SHA-256 $GOT but the signed manifest says $SUM"
say "$NAME verified (sha256 $SUM)"

# 4. Install (or hand the verified package over).
if [ -n "$ONLY" ]; then mkdir -p "$ONLY"; cp "$W/$NAME" "$ONLY/"; say "verified package saved to $ONLY/$NAME"; exit 0; fi
# An offline root (--root) may lack the base system's package records, so its dependencies are not checked.
case "$FORMAT" in
  deb) if [ -n "$ROOT" ]; then dpkg --root="$ROOT" --force-script-chrootless --force-depends --log=/dev/null -i "$W/$NAME"; else dpkg -i "$W/$NAME"; fi ;;
  rpm) if [ -n "$ROOT" ]; then rpm --root "$ROOT" -U --replacepkgs --nodeps "$W/$NAME"; else rpm -U --replacepkgs "$W/$NAME"; fi ;;
  tar) tar -xzf "$W/$NAME" -C "$W"
       D="$W/\${NAME%.tar.gz}"
       if [ -n "$ROOT" ]; then "$D/chainwatch-agent" install --from-config "$D/agent.json" --root "$ROOT"
       else "$D/chainwatch-agent" install --from-config "$D/agent.json"; fi ;;
esac
say "chainwatch agent installed"
`;
}
