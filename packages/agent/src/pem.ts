/** PEM armour (RFC 7468): base64 of the DER in 64-character lines between BEGIN/END labels. */
export function pemWrap(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}
