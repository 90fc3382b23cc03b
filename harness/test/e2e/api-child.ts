// A program that starts an instance through the API and never stops it: it exits (exit) or waits for a
// signal (wait). Galley's exit handlers must destroy the instance either way (api.test.ts checks).
import { GalleyInstance } from "galley";

const [config, mode] = process.argv.slice(2);
const cluster = await new GalleyInstance("hello-debian-12", { config }).start();
process.stdout.write(`started ${cluster.nodes.map((n) => n.name).join(" ")}\n`);
if (mode === "exit") process.exit(0);
setInterval(() => {}, 1 << 30);
