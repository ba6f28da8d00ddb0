// The seed notebook's expense flow through @langchain/langgraph-sdk, with `apiKey` as
// the only credential. Prints one JSON object of what it saw; the pytest module
// tests/integration/test_js_sdk.py runs it against a real server and checks it.
import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";

const apiUrl = process.env.LANGGRAPH_URL;
const client = (apiKey) => new Client({ apiUrl, apiKey, defaultHeaders: {} });
const alice = client(process.env.REQUESTER_KEY);
const bob = client(process.env.MANAGER_KEY);
const graph = "expense_approval";
const expense = (amount, description) => ({ amount, description, status: "pending", approver_note: "" });
const failure = async (call) => {
  try {
    await call();
    return null;
  } catch (error) {
    return String(error?.status ?? error?.message ?? error);
  }
};
const out = {};

// Test 1: a small expense, on a thread the run creates (ifNotExists), auto-approved.
const small = await alice.runs.wait(randomUUID(), graph, {
  input: expense(50, "Office supplies"),
  ifNotExists: "create",
});
out.small = small.status;

// Test 2: a large one pauses; streamed, the pause shows as __interrupt__ in values and updates.
const thread = await alice.threads.create({ metadata: { graph_id: graph } });
out.owner = thread.metadata.owner;
out.streamed = { values: null, updates: null };
for await (const chunk of alice.runs.stream(thread.thread_id, graph, {
  input: expense(500, "Conference ticket"),
  streamMode: ["values", "updates"],
})) {
  const pause = chunk.data?.__interrupt__?.[0]?.value;
  if (pause && (chunk.event === "values" || chunk.event === "updates")) {
    out.streamed[chunk.event] = { amount: pause.amount, role: pause.role };
  }
}
const waiting = await bob.threads.get(thread.thread_id);
out.waiting = { status: waiting.status, waiting_for: waiting.metadata.waiting_for };

// The requester cannot answer her own pause; the manager resumes it.
const answer = { decision: "approved", note: "Approved for Q4 conference" };
out.own_answer = await failure(() =>
  alice.runs.wait(thread.thread_id, graph, { command: { resume: answer } }),
);
const final = await bob.runs.wait(thread.thread_id, graph, { command: { resume: answer } });
out.final = { status: final.status, note: final.approver_note, by: final.audit.at(-1).approver };

// An unknown key is refused.
out.unknown_key = await failure(() => client("not-a-token").threads.search({ limit: 1 }));
console.log(JSON.stringify(out));
