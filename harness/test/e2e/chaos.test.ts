// galley chaos on the fleet cluster: a seeded schedule that passes and replays from its chaos.json, and
// a run whose checks the faults break (exit 10, evidence) whose report.html is opened in a real headless
// Chromium (Debian's): the fault windows and the failed checks must be drawn, and the screenshot must not
// be blank. The screenshot is kept as docs/report.png for the README.
// About 4 min: it runs with GALLEY_E2E_JEPSEN=1 (the full fault runs), not in a plain `npm test`.
import { expect } from "chai";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { galley, leftovers, repo } from "./helpers.ts";

const instance = "jepsen-debian-12";
const dir = path.join(repo, ".galley", instance);
const chaosJson = () => JSON.parse(readFileSync(path.join(dir, "chaos.json"), "utf8"));
type Step = { spec: { kind: string; node?: string }; error?: string };

const full = process.env.GALLEY_E2E_JEPSEN === "1";

(full ? describe : describe.skip)("galley chaos jepsen-debian-12 (GALLEY_E2E_JEPSEN=1)", function () {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "galley-chaos-e2e-"));
  before(async () => {
    const r = await galley(["converge", instance]);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await galley(["destroy", instance]);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("a seeded schedule of partitions, slow links, pauses and crashes passes its invariants and final checks; --replay runs the same schedule", async () => {
    const r = await galley(["chaos", instance, "--seed", "11", "--duration", "40s"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/chaos jepsen-debian-12: seed 11, \d+ steps, \d+ polls \(0 failed\), 3 checks \(0 failed\)/);
    const first = chaosJson();
    expect(first.passed).to.equal(true);
    expect(first.steps.length, "steps run").to.equal(first.schedule.steps.length);
    expect(first.steps.filter((s: Step) => s.error), "steps that failed").to.deep.equal([]);
    expect(first.polls.length, "invariant polls").to.be.above(10);
    const saved = path.join(tmp, "chaos.json");
    copyFileSync(path.join(dir, "chaos.json"), saved);

    const again = await galley(["chaos", instance, "--replay", saved]);
    expect(again.code, again.stderr).to.equal(0);
    const second = chaosJson();
    expect(second.schedule, "the replayed schedule").to.deep.equal(first.schedule);
    // The same faults on the same nodes, except where a step said "@leader": whoever led at the time.
    const shape = (s: Step, i: number, planned: { spec: { node?: string } }[]) => ({ ...s.spec, node: planned[i]?.spec.node === "@leader" ? "@leader" : s.spec.node });
    expect(second.steps.map((s: Step, i: number) => shape(s, i, second.schedule.steps)), "steps as they ran").to.deep.equal(first.steps.map((s: Step, i: number) => shape(s, i, first.schedule.steps)));
  });

  it("checks the faults break: exit 10 with evidence; report.html in headless Chromium draws the fault windows and the failed checks", async () => {
    const r = await galley(["chaos", instance, "--seed", "3", "--duration", "30s", "--faults", "partition,pause", "--checks", "fixtures/chaos/strict.spec.ts"]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/invariant "every member answers a quorum read" broke \d+ of \d+ polls/);
    expect(r.stderr).to.match(/evidence: \.galley\/jepsen-debian-12\/evidence\//);
    const result = chaosJson();
    const failedPolls = result.polls.filter((p: { ok: boolean }) => !p.ok).length;
    const faultNodes = result.steps.filter((s: Step) => ["partition", "pause"].includes(s.spec.kind)).length;
    expect(failedPolls).to.be.above(0);

    const profile = mkdtempSync(path.join(tmp, "profile-"));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1200, height: 700 },
    });
    try {
      const page = await browser.newPage();
      await page.goto(`file://${path.join(dir, "report.html")}`);
      const windows = await page.locator("svg .fault-window").evaluateAll((els) => els.map((e) => ({ kind: e.getAttribute("data-kind"), width: Number(e.getAttribute("width")) })));
      expect(windows.map((w) => w.kind).filter((k) => k === "partition" || k === "pause").length, "partition and pause windows drawn").to.be.at.least(faultNodes);
      expect(windows.every((w) => w.width > 0), "every window has a width").to.equal(true);
      const failedMarks = page.locator("svg .mark.fail");
      expect(await failedMarks.count(), "failed polls and checks drawn").to.equal(failedPolls + 1);
      expect(await failedMarks.first().locator("title").textContent(), "a failed mark's message on hover").to.match(/every member answers a quorum read[^]*etcdctl/);
      expect(await page.locator("#failures tr.failure").count()).to.equal(failedPolls + 1);
      const png = await page.screenshot({ fullPage: true });
      // The README's picture: the title, legend and timeline (the tables below are text anyway).
      const box = (await page.locator("#timeline").boundingBox())!;
      writeFileSync(path.join(repo, "docs", "report.png"), await page.screenshot({ clip: { x: 0, y: 0, width: 1200, height: Math.ceil(box.y + box.height + 10) } }));
      // Not blank: the screenshot, decoded by the browser itself, has many colours and few white pixels.
      const pixels = await page.evaluate(async (b64: string) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const c = document.createElement("canvas");
        c.width = img.width;
        c.height = img.height;
        const ctx = c.getContext("2d")!;
        ctx.drawImage(img, 0, 0);
        const data = ctx.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        let white = 0;
        for (let i = 0; i < data.length; i += 4) {
          colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
          if (data[i]! > 250 && data[i + 1]! > 250 && data[i + 2]! > 250) white++;
        }
        return { colours: colours.size, whiteShare: white / (data.length / 4), width: c.width };
      }, png.toString("base64"));
      console.log(`      screenshot: ${png.length} bytes, ${pixels.width} px wide, ${pixels.colours} colours, ${(pixels.whiteShare * 100).toFixed(0)} % white`);
      expect(pixels.colours, "colours in the screenshot").to.be.above(20);
      expect(pixels.whiteShare, "share of white pixels").to.be.below(0.9);
    } finally {
      await browser.close();
    }
  });
});
