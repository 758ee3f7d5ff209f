// The Dapr JS SDK's HTTP workflow client, unchanged, against `wf dev` on the given port.
import assert from "node:assert/strict";
import { DaprClient, CommunicationProtocolEnum } from "@dapr/dapr";

const client = new DaprClient({
  daprHost: "127.0.0.1",
  daprPort: process.argv[2],
  communicationProtocol: CommunicationProtocolEnum.HTTP,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(id, status) {
  for (let i = 0; i < 100; i++) {
    const wf = await client.workflow.get(id);
    if (wf.runtimeStatus === status) return wf;
    await sleep(100);
  }
  throw new Error(`${id} never reached ${status}`);
}

const order = { Name: "Paperclips", TotalCost: 99.95, Quantity: 4 };
const id = await client.workflow.start("OrderProcessingWorkflow", order);
let wf = await client.workflow.get(id);
assert.equal(wf.instanceID, id);
assert.equal(wf.workflowName, "OrderProcessingWorkflow");
assert.ok(wf.createdAt instanceof Date && wf.lastUpdatedAt instanceof Date);
assert.deepEqual(JSON.parse(wf.properties["dapr.workflow.input"]), order);
await client.workflow.pause(id);
await until(id, "SUSPENDED");
await client.workflow.resume(id);
await client.workflow.raise(id, "approval", { approved: true });
wf = await until(id, "COMPLETED");
assert.equal(JSON.parse(wf.properties["dapr.workflow.output"]).processed, true);

// Strings go as text/plain.
const id2 = await client.workflow.start("hello_world_wf", "just a string", "js-hello");
assert.equal(id2, "js-hello");
await client.workflow.raise(id2, "event1", "a string payload");
wf = await until(id2, "COMPLETED");
assert.equal(wf.properties["dapr.workflow.input"], '"just a string"');
await client.workflow.terminate(id2);
await client.workflow.purge(id2);
await assert.rejects(client.workflow.get(id2));
console.log("dapr js sdk: ok");
process.exit(0);
