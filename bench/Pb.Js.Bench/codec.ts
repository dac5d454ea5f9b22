// In-process timings of W3's message (a list of 1000 dicts {id, name, score}) in the TypeScript client's two paths, next
// to JSON.stringify/JSON.parse of SignalR's JSON invocation of the same list. Bundled from the client's sources (the
// plain path is internal). Usage: npm run --silent build && node dist/codec.mjs [ITERATIONS]
import { BananaParser } from "../../src/Pb.Js.Client/src/banana/BananaParser.js";
import { DEFAULT_BANANA_LIMITS } from "../../src/Pb.Js.Client/src/banana/BananaTypes.js";
import { BananaWriter } from "../../src/Pb.Js.Client/src/banana/BananaWriter.js";
import { Jellier } from "../../src/Pb.Js.Client/src/jelly/Jellier.js";
import { Tuple } from "../../src/Pb.Js.Client/src/jelly/JellyValues.js";
import { readPlainMessage, writePlain } from "../../src/Pb.Js.Client/src/jelly/PlainJelly.js";
import { Unjellier } from "../../src/Pb.Js.Client/src/jelly/Unjellier.js";

const iterations = Number(process.argv[2] ?? "2000");
const dicts = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item-${i}`, score: i * 0.5 }));
const call = (w: BananaWriter): void => {
  w.list(7);
  w.text("message");
  w.write(1);
  w.text("root");
  w.text("echo");
  w.write(1);
};
const answerTree = new BananaWriter("pb");
answerTree.write(["answer", 1, new Jellier().jelly(dicts)]);
const answer = answerTree.finish().slice();
const invocation = { type: 1, invocationId: "1", target: "Echo", arguments: [dicts] };
const json = JSON.stringify(invocation);
const writer = new BananaWriter("pb", 128 * 1024);

const cases: Record<string, () => unknown> = {
  "write call, tree path (Jellier + BananaWriter)": () => {
    writer.reset();
    const jellier = new Jellier();
    writer.write(["message", 1, "root", "echo", 1, jellier.jelly(new Tuple([dicts])), jellier.jelly(Object.create(null) as object)]);
    return writer.length;
  },
  "write call, plain path": () => {
    writer.reset();
    call(writer);
    const seen = new Set<object>();
    return writePlain(writer, new Tuple([dicts]), seen, 0) && writePlain(writer, Object.create(null) as object, seen, 0);
  },
  "read answer, tree path (BananaParser + Unjellier)": () => new Unjellier().unjelly((new BananaParser("pb").feed(answer)[0] as never[])[2]!),
  "read answer, plain path": () => readPlainMessage(answer, 0, answer.length, DEFAULT_BANANA_LIMITS),
  "JSON.stringify (SignalR JSON invocation)": () => JSON.stringify(invocation),
  "JSON.parse (SignalR JSON invocation)": () => JSON.parse(json) as unknown,
};

console.log(`W3 message: banana ${answer.length} B, SignalR JSON ${json.length} B; ${iterations} iterations after as many to warm up`);
for (const [name, run] of Object.entries(cases)) {
  for (let i = 0; i < iterations; i++) run();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) run();
  console.log(`${name.padEnd(52)} ${(((performance.now() - started) / iterations) * 1000).toFixed(0).padStart(6)} us`);
}
