// Drives the official @scalekit-sdk/node one call at a time, as the seeds' snippets call it.
// Run by tests/support/scalekit.py: one JSON command per line on stdin, one JSON line out with the
// result or the SDK error. int64 fields arrive as BigInt; they are sent back as strings with their type.
import { ScalekitClient } from '@scalekit-sdk/node';
import readline from 'node:readline';

let client = null;

function plain(value) {
  if (typeof value === 'bigint') return { bigint: value.toString() };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) if (k !== '$typeName') out[k] = plain(v);
    return out;
  }
  return value;
}

const ops = {
  init: async ({ env_url, client_id, client_secret }) => {
    client = new ScalekitClient(env_url, client_id, client_secret);
    return { ok: true };
  },
  send: async ({ email, options }) => client.passwordless.sendPasswordlessEmail(email, options),
  resend: async ({ authRequestId }) => client.passwordless.resendPasswordlessEmail(authRequestId),
  verify: async ({ credential, authRequestId }) =>
    client.passwordless.verifyPasswordlessEmail(credential, authRequestId),
  authorization_url: async ({ redirect_uri, options }) => client.getAuthorizationUrl(redirect_uri, options),
  authenticate_with_code: async ({ code, redirect_uri, options }) =>
    client.authenticateWithCode(code, redirect_uri, options),
  validate_access_token: async ({ token }) => client.validateAccessToken(token),
  refresh: async ({ refresh_token }) => client.refreshAccessToken(refresh_token),
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const { op, args } = JSON.parse(line);
  let reply;
  try {
    reply = { result: plain(await ops[op](args ?? {})) };
  } catch (e) {
    reply = {
      error: {
        class: e?.constructor?.name,
        error_code: e?.errorCode ?? null,
        grpc_status: String(e?.grpcStatus ?? null),
        http_status: String(e?.httpStatus ?? null),
        message: String(e?.message ?? e).slice(0, 2000),
        // An AxiosError (token endpoint) carries the server's OAuth error body.
        body: e?.response?.data ?? null,
      },
    };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
