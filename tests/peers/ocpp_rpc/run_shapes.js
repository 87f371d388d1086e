// Drive chargewatch with the meter shapes of tests/sessions_live/shapes.py from the ocpp-rpc client in strict mode:
// every CALL we send and every answer chargewatch gives is validated against the OCPP 1.6 JSON schemas.
// Usage: node run_shapes.js ws://127.0.0.1:PORT/ocpp shapes.json  → prints {"shape name": [transactionId, …]}
'use strict';
const fs = require('fs');
const { RPCClient } = require('ocpp-rpc');

function fill(payload, transactionIds) {
  const out = {};
  for (const [key, value] of Object.entries(payload)) {
    if (value === '$tx') out[key] = transactionIds[transactionIds.length - 1];
    else if (value === '$tx1') out[key] = transactionIds[0];
    else out[key] = value;
  }
  return out;
}

async function runShape(endpoint, shape) {
  const client = new RPCClient({ endpoint, identity: shape.chargerId, protocols: ['ocpp1.6'], strictMode: true,
                                 reconnect: false, callTimeoutMs: 20000 });
  const failures = [];
  client.on('strictValidationFailure', (failure) => failures.push(String(failure.error)));
  await client.connect();
  const transactionIds = [];
  try {
    for (const [action, payload] of shape.steps) {
      const reply = await client.call(action, fill(payload, transactionIds));
      if (action === 'StartTransaction') transactionIds.push(reply.transactionId);
    }
  } finally {
    await client.close();
  }
  if (failures.length) throw new Error(`${shape.name}: strict validation failed: ${failures.join('; ')}`);
  return transactionIds;
}

async function main() {
  const [endpoint, file] = process.argv.slice(2);
  const shapes = JSON.parse(fs.readFileSync(file, 'utf8'));
  const result = {};
  for (const shape of shapes) result[shape.name] = await runShape(endpoint, shape);
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
