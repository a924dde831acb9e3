// The tuner's side of `cnnc tune`'s helper process (cli/tune-ahead.ts), against a stand-in for
// the process: what it tells the helper, when it waits for it, what it compiles meanwhile,
// when it stops it, and when it gives up on it. (The helper itself runs in the GPU tests.)
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { AheadProcess, type HelperProcess } from "../cli/tune-ahead.js";

class StandIn extends EventEmitter {
  connected = true;
  readonly sent: unknown[] = [];
  readonly signals: string[] = [];
  send(m: unknown): boolean {
    this.sent.push(m);
    return true;
  }
  kill(signal: string = "SIGTERM"): boolean {
    this.signals.push(signal);
    return true;
  }
  say(kind: "start" | "done", step: number, index: number, ms = 500): void {
    this.emit("message", { kind, step, index, ms });
  }
}

function helper(lengths: number[]) {
  const child = new StandIn();
  const ahead = new AheadProcess(child as unknown as HelperProcess, {
    lengths,
    exhaustive: false,
  });
  return { child, ahead };
}

const nothing = async () => {};

describe("cnnc tune's helper, from the tuner's side", () => {
  it("a candidate the helper has not reached: the tuner goes on at once, and says so", async () => {
    const { child, ahead } = helper([5]);
    await ahead.next(0, 0, () => Promise.reject(new Error("nothing to compile meanwhile")));
    expect(child.sent).toEqual([{ kind: "next", step: 0, index: 0 }]);
    expect(ahead.counts).toEqual({ asked: 1, helper: 0, whileWaiting: 0 });
  });

  it("a candidate the helper is compiling: the tuner compiles later sure ones meanwhile, then takes it", async () => {
    const { child, ahead } = helper([5, 4]);
    child.say("start", 0, 1);
    child.say("start", 1, 0);
    const meanwhile: string[] = [];
    await ahead.next(0, 1, async (step, index) => {
      meanwhile.push(`${step}/${index}`);
      if (meanwhile.length === 2) child.say("done", 0, 1); // (during the second)
    });
    // 0/2: the last of layer 0 surely measured (0/3 may not be); 1/0: the helper's; then 1/1
    expect(meanwhile).toEqual(["0/2", "1/1"]);
    expect(child.sent).toEqual([
      { kind: "next", step: 0, index: 1 },
      { kind: "taken", step: 0, index: 2 },
      { kind: "taken", step: 1, index: 1 },
    ]);
    await ahead.next(0, 2, nothing);
    expect(ahead.counts).toEqual({ asked: 2, helper: 1, whileWaiting: 1 });
  });

  it("skips the layers the tuner finished, and waits when nothing sure is left to compile", async () => {
    const { child, ahead } = helper([4, 3]);
    ahead.finished(1);
    child.say("start", 0, 0);
    const meanwhile: string[] = [];
    const waited = ahead.next(0, 0, async (step, index) => {
      meanwhile.push(`${step}/${index}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(meanwhile).toEqual(["0/1", "0/2"]);
    child.say("done", 0, 0);
    await waited;
    expect(ahead.counts.helper).toBe(1);
  });

  it("a helper that ends releases the tuner waiting for it", async () => {
    const { child, ahead } = helper([1]);
    child.say("start", 0, 0);
    const waited = ahead.next(0, 0, nothing);
    child.emit("exit", 1, null);
    await waited;
    expect(ahead.counts.helper).toBe(0);
    // and is sent nothing more
    ahead.finished(0);
    await ahead.alone(async () => 1);
    expect(child.signals).toEqual([]);
    expect(child.sent).toEqual([{ kind: "next", step: 0, index: 0 }]);
  });

  it("is stopped while the tuner times a kernel, and continued after, also when timing fails", async () => {
    const { child, ahead } = helper([3]);
    expect(await ahead.alone(async () => 42)).toBe(42);
    expect(child.signals).toEqual(["SIGSTOP", "SIGCONT"]);
    await expect(ahead.alone(() => Promise.reject(new Error("lost")))).rejects.toThrow("lost");
    expect(child.signals).toEqual(["SIGSTOP", "SIGCONT", "SIGSTOP", "SIGCONT"]);
  });

  it("is closed when the tuner compiled again what it had compiled (no shared cache)", async () => {
    // loading took longer than the helper's compile (it said 0 ms): three times
    const { child, ahead } = helper([3]);
    for (const index of [0, 1, 2]) {
      child.say("start", 0, index);
      child.say("done", 0, index, 0);
      await ahead.next(0, index, nothing);
      await new Promise((resolve) => setTimeout(resolve, 2));
      await ahead.alone(nothing);
    }
    expect(ahead.stopped).toMatch(/^loading what it compiled took \d+% of its compile time/);
    expect(child.signals.slice(-2)).toEqual(["SIGCONT", "SIGTERM"]); // (continued, to hear it)
    await ahead.alone(nothing);
    expect(child.signals.at(-1)).toBe("SIGTERM"); // (not stopped again)
  });

  it("is kept while loading what it compiled is quick (a cache hit)", async () => {
    const { child, ahead } = helper([3]);
    for (const index of [0, 1, 2]) {
      child.say("start", 0, index);
      child.say("done", 0, index, 1e9);
      await ahead.next(0, index, nothing);
      await ahead.alone(nothing);
    }
    expect(ahead.stopped).toBeUndefined();
    expect(child.signals).not.toContain("SIGTERM");
  });

  it("finishes the untuned network's compile before it is closed", async () => {
    const { child, ahead } = helper([3]);
    child.say("start", -1, 0);
    let closed = false;
    const finishing = ahead.finish().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toBe(false);
    child.say("done", -1, 0);
    await finishing;
    expect(child.signals).toEqual(["SIGCONT", "SIGTERM"]);
  });
});
