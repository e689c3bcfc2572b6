import type { FastifyReply, FastifyRequest } from 'fastify';

// No inline script or style anywhere, so the policy can say 'self' and nothing else;
// frame-ancestors 'none' plus X-Frame-Options covers old and new browsers against
// clickjacking of the admin forms.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const STATIC_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

export function applySecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  for (const [name, value] of Object.entries(STATIC_HEADERS)) reply.header(name, value);
  // Only over https: HSTS sent on plain http would be ignored, and on a mistaken
  // http-only install it must not stick in browsers.
  if (request.protocol === 'https') reply.header('strict-transport-security', 'max-age=31536000');
}
