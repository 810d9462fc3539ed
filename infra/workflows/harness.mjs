// Runs Turnstile's Step Functions definitions, as CloudFormation renders them, in the
// independent ASL engine aws-local-stepfunctions, with every Lambda task invoking the real
// function binary (served by `cargo lambda watch`, through its Lambda Invoke API) and the
// EventBridge and SNS tasks captured. See infra/workflows/README.md.
//
// Usage: node --import ./infra/workflows/polyfill.mjs infra/workflows/harness.mjs CONFIG.json
//
// CONFIG (written by infra/tests/test_workflows_run.py):
//   definitions  {"onboarding": path, "offboarding": path}: rendered definitions
//   functions    {function ARN in the definitions: function name served by the watchers}
//   watchers     {name: "http://127.0.0.1:PORT"}: `cargo lambda watch` invoke endpoints;
//                a step picks one with "watcher" (default "main")
//   emulator     "http://127.0.0.1:PORT": the Identity Store emulator (admin API)
//   scenarios    [path, ...]: scenario files (see README.md)
//   retryDelayMs the pause before each Retry (replaces IntervalSeconds/backoff/jitter)
//   report       path the JSON report is written to
//
// The harness asserts nothing: it reports what happened (each execution's states,
// invocations, retries, catches, outcome, captured events and notifications, the
// Identity Store calls it cost, and the store at the end of each scenario), and the
// pytest module checks it.

import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { randomUUID } from "node:crypto";
import { StateMachine } from "aws-local-stepfunctions";

if (typeof Promise.withResolvers !== "function") {
  // Without it every Task state fails with a TypeError, which the definitions' Catch
  // States.ALL would turn into a notification: a run that looks like a result.
  console.error("Promise.withResolvers is missing: run with node --import ./infra/workflows/polyfill.mjs (README.md)");
  process.exit(2);
}

const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
const PUT_EVENTS = "arn:aws:states:::events:putEvents";
const SNS_PUBLISH = "arn:aws:states:::sns:publish";
const ACCOUNT = "111122223333";
const REGION = "eu-west-1";
const WRITES = [
  "CreateUser",
  "UpdateUser",
  "DeleteUser",
  "CreateGroup",
  "UpdateGroup",
  "CreateGroupMembership",
  "DeleteGroupMembership",
];
// The emulator's fault configuration with nothing injected.
const NO_FAULTS = { seed: 1, default: {}, operations: {} };

const log = (...args) => console.error("[workflows]", ...args);

/** A task failure as Step Functions reports a Lambda function error: Error is the
 * errorType, Cause the function's error object (as JSON text). */
class TaskFailure extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

async function http(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${url}: HTTP ${response.status}: ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

function counterDelta(before, after) {
  const calls = {};
  let total = 0;
  let writes = 0;
  for (const [operation, outcomes] of Object.entries(after.operations ?? {})) {
    for (const [outcome, n] of Object.entries(outcomes)) {
      const d = n - (before.operations?.[operation]?.[outcome] ?? 0);
      if (d === 0) continue;
      calls[operation] = { ...calls[operation], [outcome]: d };
      total += d;
      if (outcome === "ok" && WRITES.includes(operation)) writes += d;
    }
  }
  const injected = {};
  for (const [operation, kinds] of Object.entries(after.injected ?? {})) {
    for (const [kind, n] of Object.entries(kinds)) {
      const d = n - (before.injected?.[operation]?.[kind] ?? 0);
      if (d !== 0) injected[operation] = { ...injected[operation], [kind]: d };
    }
  }
  return { total, writes, calls, injected };
}

/** The store as {users: {userName: [group displayName, ...]}, groups: {displayName:
 * [userName, ...]}}, from GET /_admin/state?full=true. */
function readableStore(full) {
  const userNames = {};
  for (const [id, user] of Object.entries(full.users ?? {})) userNames[id] = user.attributes.UserName;
  const groupNames = {};
  for (const [id, group] of Object.entries(full.groups ?? {})) groupNames[id] = group.attributes.DisplayName;
  const users = Object.fromEntries(Object.values(userNames).map((name) => [name, []]));
  const groups = Object.fromEntries(Object.values(groupNames).map((name) => [name, []]));
  for (const membership of Object.values(full.memberships ?? {})) {
    const user = userNames[membership.user_id];
    const group = groupNames[membership.group_id];
    users[user].push(group);
    groups[group].push(user);
  }
  for (const list of [...Object.values(users), ...Object.values(groups)]) list.sort();
  return { users, groups };
}

class Harness {
  constructor(config) {
    this.config = config;
    this.definitionText = {};
  }

  async load() {
    for (const [machine, path] of Object.entries(this.config.definitions)) {
      this.definitionText[machine] = await readFile(path, "utf-8");
      // Validates the definition once (the engine runs asl-validator in its constructor).
      new StateMachine(JSON.parse(this.definitionText[machine]));
    }
  }

  /** A state machine for one execution. Each execution gets its own parse of the
   * definition: the engine's States.JsonMerge writes into its first argument, and a Pass
   * state's Result object is handed on by reference, so with one shared StateMachine a
   * merge into `$.event` (EventFromDetail's `Result: {}`) would carry one execution's
   * request into the next. See README.md, "Engine notes". */
  machine(name) {
    const definition = JSON.parse(this.definitionText[name]);
    return { definition, engine: new StateMachine(definition) };
  }

  async emulator(method, path, body) {
    return http(method, `${this.config.emulator}${path}`, body);
  }

  /** Invokes a function through the watcher's Lambda Invoke API (what `cargo lambda
   * invoke` calls) and answers as the lambda:invoke integration does. */
  async invokeLambda(watcher, parameters, record) {
    const arn = parameters.FunctionName;
    const name = this.config.functions[arn];
    if (!name) throw new TaskFailure("Harness.UnknownFunction", `no function is served for ${arn}`);
    const url = `${watcher}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`;
    const entry = { state: record.state, function: name, payload: parameters.Payload, startedAt: Date.now() };
    record.invocations.push(entry);
    const response = await fetch(url, { method: "POST", body: JSON.stringify(parameters.Payload) });
    const text = await response.text();
    entry.endedAt = Date.now();
    if (response.ok) {
      entry.result = JSON.parse(text);
      return {
        ExecutedVersion: "$LATEST",
        Payload: entry.result,
        SdkHttpMetadata: { HttpStatusCode: 200 },
        SdkResponseMetadata: { RequestId: randomUUID() },
        StatusCode: 200,
      };
    }
    // cargo lambda's Invoke API answers a function error with HTTP 500 and the error
    // object as the body; Lambda itself with 200 and X-Amz-Function-Error. Either way
    // the task fails with Error = errorType and Cause = the error object.
    let error;
    try {
      error = JSON.parse(text);
    } catch {
      error = null;
    }
    if (error && typeof error.errorType === "string") {
      entry.error = error;
      throw new TaskFailure(error.errorType, text);
    }
    entry.error = { harness: `HTTP ${response.status}`, body: text };
    throw new TaskFailure("Harness.InvokeFailed", `HTTP ${response.status} from ${url}: ${text}`);
  }

  /** Overrides for every Task state by its integration, and the Retry pauses. */
  overrides(definition, step, record, hold) {
    const watcher = this.config.watchers[step.watcher ?? "main"];
    if (!watcher) throw new Error(`no watcher ${step.watcher}`);
    const taskResourceLocalHandlers = {};
    const retryIntervalOverrides = {};
    for (const [state, body] of Object.entries(definition.States)) {
      if (body.Retry) retryIntervalOverrides[state] = this.config.retryDelayMs ?? 0;
      if (body.Type !== "Task") continue;
      if (body.Resource === LAMBDA_INVOKE) {
        taskResourceLocalHandlers[state] = async (parameters) => {
          if (hold && hold.state === state) await hold.done;
          return this.invokeLambda(watcher, parameters, { state, invocations: record.invocations });
        };
      } else if (body.Resource === PUT_EVENTS) {
        taskResourceLocalHandlers[state] = async (parameters) => {
          for (const entry of parameters.Entries) record.events.push({ state, ...entry });
          return { Entries: parameters.Entries.map(() => ({ EventId: randomUUID() })), FailedEntryCount: 0 };
        };
      } else if (body.Resource === SNS_PUBLISH) {
        taskResourceLocalHandlers[state] = async (parameters) => {
          record.notifications.push({ state, ...parameters });
          return { MessageId: randomUUID() };
        };
      } else {
        throw new Error(`state ${state}: the harness has no stand-in for ${body.Resource}`);
      }
    }
    return { taskResourceLocalHandlers, retryIntervalOverrides };
  }

  async runStep(scenario, step, index) {
    const label = `${scenario}/${step.name ?? index}`;
    const { definition, engine } = this.machine(step.machine);
    const executionName = `${scenario}-${step.name ?? index}`.replace(/[^A-Za-z0-9_-]/g, "-");
    const stateMachineName = `turnstile-${step.machine}`;
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineName}:${executionName}`;
    const record = {
      name: step.name ?? String(index),
      machine: step.machine,
      watcher: step.watcher ?? "main",
      executionArn,
      states: [],
      retries: [],
      caught: [],
      invocations: [],
      events: [],
      notifications: [],
      during: [],
    };
    if (step.faults) {
      await this.emulator("PUT", "/_admin/faults", { ...NO_FAULTS, operations: step.faults });
    }
    const before = await this.emulator("GET", "/_admin/counters");
    let hold = null;
    let duringRun = null;
    if (step.during) {
      let release;
      hold = { state: step.during.holds, done: new Promise((resolve) => (release = resolve)) };
      hold.release = release;
    }
    const started = Date.now();
    log(`${label}: ${step.machine} execution starts`);
    const execution = engine.run(step.input, {
      overrides: this.overrides(definition, step, record, hold),
      context: {
        Execution: { Id: executionArn, Name: executionName, RoleArn: `arn:aws:iam::${ACCOUNT}:role/turnstile-workflows` },
        StateMachine: { Id: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${stateMachineName}`, Name: stateMachineName },
      },
    });
    const events = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === "StateEntered") {
          record.states.push(event.state.name);
          if (step.during && event.state.name === step.during.entered && !duringRun) {
            // The other executions run while this one is in the named state; the held
            // state's task waits until they have ended, so the order is certain.
            duringRun = (async () => {
              for (const [i, inner] of step.during.steps.entries()) {
                record.during.push(await this.runStep(scenario, inner, `${index}.${i}`));
              }
            })().finally(() => hold.release());
          }
        } else if (event.type === "StateRetried") {
          record.retries.push({ state: event.state.name, attempt: event.retry.attempt, errorEquals: event.retry.retrier.ErrorEquals });
        } else if (event.type === "StateFailed") {
          record.caught.push({ state: event.state.name, error: event.Error, kind: "failed" });
        } else if (event.type === "StateCaught") {
          record.caught.push({ state: event.state.name, errorEquals: event.catch.catcher.ErrorEquals, next: event.catch.catcher.Next, kind: "caught" });
        }
      }
    })();
    try {
      record.output = await execution.result;
      record.status = "SUCCEEDED";
    } catch (error) {
      record.status = "FAILED";
      const cause = error.cause ?? error;
      record.error = cause.name;
      record.cause = cause.message;
      if (!error.cause) record.engineError = String(error.stack ?? error);
    }
    await events;
    if (hold) hold.release();
    if (duringRun) await duringRun;
    record.startedAt = started;
    record.endedAt = Date.now();
    record.seconds = (record.endedAt - started) / 1000;
    const after = await this.emulator("GET", "/_admin/counters");
    record.store = counterDelta(before, after);
    if (step.faults) {
      await this.emulator("PUT", "/_admin/faults", NO_FAULTS);
    }
    log(`${label}: ${record.status}${record.error ? ` (${record.error})` : ""}, states ${record.states.join(" > ")}, ${record.invocations.length} invocation(s), ${record.seconds.toFixed(1)} s`);
    return record;
  }

  async runScenario(path) {
    const scenario = JSON.parse(await readFile(path, "utf-8"));
    const name = basename(path, ".json");
    const started = Date.now();
    // Each scenario starts from an empty store (the ledger keeps its records: the
    // scenarios use different people).
    await this.emulator("POST", "/_admin/reset");
    const steps = [];
    for (const [i, step] of scenario.steps.entries()) steps.push(await this.runStep(name, step, i));
    const full = await this.emulator("GET", "/_admin/state?full=true");
    return { name, description: scenario.description, steps, store: readableStore(full), seconds: (Date.now() - started) / 1000 };
  }
}

async function main() {
  const [configPath] = process.argv.slice(2);
  if (!configPath) {
    console.error("usage: node --import ./infra/workflows/polyfill.mjs infra/workflows/harness.mjs CONFIG.json");
    process.exit(2);
  }
  const config = JSON.parse(await readFile(configPath, "utf-8"));
  const harness = new Harness(config);
  await harness.load();
  const started = Date.now();
  const scenarios = {};
  for (const path of config.scenarios) {
    const result = await harness.runScenario(path);
    scenarios[result.name] = result;
  }
  const report = { engine: config.engineVersion, node: process.version, seconds: (Date.now() - started) / 1000, scenarios };
  await writeFile(config.report, JSON.stringify(report, null, 2));
  log(`${Object.keys(scenarios).length} scenario(s) in ${report.seconds.toFixed(1)} s`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
