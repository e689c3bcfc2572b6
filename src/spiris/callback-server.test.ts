import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isLocalRedirectUri, startCallbackServer } from './callback-server.ts';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('callback server', () => {
  it('knows which redirect URIs it can listen on', () => {
    expect(isLocalRedirectUri('http://localhost:8976/callback')).toBe(true);
    expect(isLocalRedirectUri('http://127.0.0.1:1/cb')).toBe(true);
    expect(isLocalRedirectUri('https://localhost:44300/callback')).toBe(false);
    expect(isLocalRedirectUri('http://app.example/cb')).toBe(false);
  });

  it('ignores a foreign state and other paths, then takes the real callback', async () => {
    const port = await freePort();
    const ignored: string[] = [];
    const server = await startCallbackServer({
      redirectUri: `http://localhost:${port}/callback`,
      state: 'good',
      timeoutMs: 5000,
      onIgnored: (r) => ignored.push(r),
    });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/favicon.ico`)).status).toBe(404);
      const forged = await fetch(`http://127.0.0.1:${port}/callback?code=evil&state=bad`);
      expect(forged.status).toBe(400);
      expect(ignored).toHaveLength(1);
      const ok = await fetch(`http://127.0.0.1:${port}/callback?code=the-code&state=good`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/close this window/);
      await expect(server.code).resolves.toBe('the-code');
    } finally {
      await server.close();
    }
  });

  it('ends with a declined consent and with a timeout', async () => {
    const port = await freePort();
    const declined = await startCallbackServer({
      redirectUri: `http://127.0.0.1:${port}/cb`,
      state: 's',
      timeoutMs: 5000,
    });
    try {
      await fetch(`http://127.0.0.1:${port}/cb?error=access_denied&state=s`);
      await expect(declined.code).rejects.toThrow(/declined/);
    } finally {
      await declined.close();
    }
    const slow = await startCallbackServer({
      redirectUri: `http://127.0.0.1:${port}/cb`,
      state: 's',
      timeoutMs: 30,
    });
    try {
      await expect(slow.code).rejects.toThrow(/No authorization arrived/);
    } finally {
      await slow.close();
    }
  });

  it('says so when the port is taken', async () => {
    const port = await freePort();
    const first = await startCallbackServer({
      redirectUri: `http://127.0.0.1:${port}/cb`,
      state: 's',
      timeoutMs: 5000,
    });
    try {
      await expect(
        startCallbackServer({ redirectUri: `http://127.0.0.1:${port}/cb`, state: 's', timeoutMs: 5000 }),
      ).rejects.toThrow(/already in use/);
    } finally {
      await first.close();
    }
  });
});
